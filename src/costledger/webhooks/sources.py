"""What a webhook names without carrying it, read where it lives: Stripe's API and the ledger.

`StripeLookup` answers `stripe_objects.Lookup` through the `stripe` package's StripeClient
(when `[stripe] api_key` is set) and the ledger (the payment a refund or dispute belongs
to). `stored_session` gives Twilio's calls the user, tier and mode of the session they
belong to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..store.schema import events, sessions
from ..webhook_settings import StripeSettings
from .problems import SourceUnavailable
from .stripe_objects import StripeEvents

if TYPE_CHECKING:
    import stripe

    from ..ledger import Ledger


class StripeLookup:
    """Balance transactions, charges, customers, refunds and invoice payments from Stripe; payments from the ledger."""

    def __init__(self, ledger: Ledger | None, settings: StripeSettings) -> None:
        self.ledger = ledger
        self.client: stripe.StripeClient | None = None
        key = settings.key()
        if key:
            import stripe

            base = {"api": settings.api_base} if settings.api_base else None
            self.client = stripe.StripeClient(key, base_addresses=base, max_network_retries=2)  # type: ignore[arg-type]

    def _get(self, what: str, call: Callable[[stripe.StripeClient], Any]) -> dict[str, Any] | None:
        if self.client is None:
            return None
        import stripe

        try:
            found: dict[str, Any] = call(self.client).to_dict()
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return None  # another account's object, or deleted: the event alone must do
            raise SourceUnavailable(f"Stripe refused to give {what}: {exc.user_message or exc}") from None
        except stripe.StripeError as exc:
            raise SourceUnavailable(f"could not read {what} from Stripe: {exc.user_message or exc}") from None
        return found

    def charge(self, charge_id: str) -> Mapping[str, Any] | None:
        return self._get(f"charge {charge_id}", lambda c: c.v1.charges.retrieve(
            charge_id, {"expand": ["balance_transaction"]}))  # fmt: skip

    def balance_transaction(self, txn_id: str) -> Mapping[str, Any] | None:
        return self._get(f"balance transaction {txn_id}", lambda c: c.v1.balance_transactions.retrieve(txn_id))

    def customer(self, customer_id: str) -> Mapping[str, Any] | None:
        found = self._get(f"customer {customer_id}", lambda c: c.v1.customers.retrieve(customer_id))
        return None if found is None or found.get("deleted") else found

    def refunds(self, charge_id: str) -> Sequence[Mapping[str, Any]] | None:
        found = self._get(f"the refunds of {charge_id}", lambda c: c.v1.refunds.list(
            {"charge": charge_id, "limit": 100, "expand": ["data.balance_transaction"]}))  # fmt: skip
        return None if found is None else list(found.get("data") or [])

    def payment_intent(self, intent_id: str) -> Mapping[str, Any] | None:
        return self._get(f"payment intent {intent_id}", lambda c: c.v1.payment_intents.retrieve(
            intent_id, {"expand": ["latest_charge.balance_transaction"]}))  # fmt: skip

    def invoice_payment(self, invoice_id: str) -> str | None:
        found = self._get(f"the payments of {invoice_id}", lambda c: c.v1.invoice_payments.list(
            {"invoice": invoice_id, "status": "paid", "limit": 10}))  # fmt: skip
        for payment in (found or {}).get("data") or []:
            inner = payment.get("payment") or {}
            paid_with = inner.get("payment_intent") or inner.get("charge")
            if isinstance(paid_with, str):
                return paid_with
        return None

    def recorded(self, event_id: str) -> Mapping[str, Any] | None:
        if self.ledger is None:
            return None
        with self.ledger.store.engine.connect() as connection:
            row = connection.execute(
                select(events.c.user_id, events.c.tier, events.c.meta).where(events.c.event_id == event_id)
            ).first()
        if row is None:
            return None
        return {"user_id": row.user_id, "tier": row.tier, "metadata": json.loads(row.meta or "{}")}


def stripe_events(ledger: Ledger) -> StripeEvents:
    """The ledger's converter of Stripe events, with its `[stripe]` mapping and lookups."""
    settings = ledger.config.stripe
    return StripeEvents(settings, ledger.config.plans, StripeLookup(ledger, settings))


def stored_session(ledger: Ledger, session_id: str) -> dict[str, Any] | None:
    """The user, tier and mode the agent recorded for a session, if it did."""
    with ledger.store.engine.connect() as connection:
        row = connection.execute(
            select(sessions.c.user_id, sessions.c.tier, sessions.c.mode).where(sessions.c.session_id == session_id)
        ).first()
    return None if row is None else {"user_id": row.user_id, "tier": row.tier, "mode": row.mode}


__all__ = ["StripeLookup", "stored_session", "stripe_events"]
