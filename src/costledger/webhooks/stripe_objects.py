"""Stripe's objects as payment events: charges, payment intents, invoices, refunds, disputes.

Pure: what an event does not carry (a balance transaction it names by id, a customer's
metadata, the charge a payment intent or invoice was paid with) is asked of a `Lookup`;
the webhook route backs it with Stripe's API and the ledger, the demo and tests with data.

Ids, so that each movement of money counts once however often and by whichever event
Stripe announces it:
- a payment is its charge, `stripe:ch_…`: `charge.succeeded`, `payment_intent.succeeded`
  and `invoice.paid` of the same money, and every retry of each, are one event;
- a refund is `stripe:re_…`;
- a dispute's money (withdrawn, reinstated) is its balance transactions, `stripe:txn_…`.

Amounts: Stripe's balance transaction says what reached the account, in its settlement
currency, after conversion at Stripe's rate, and the exact fee. Where it is known the
event records it (the fee as `cost_usd`, reported). Where it is not, the fee is left to
the catalog (an estimate, so margins show it as one) and the USD amount is exact for a
USD charge, or converted at a rate from `[stripe] usd_rates`, or refused (NeedsData).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..config import Plan
from ..webhook_settings import StripeSettings
from .problems import NeedsData, Unusable
from .stripe_fields import (
    first,
    id_of,
    invoice_prices,
    items,
    major,
    mapping,
    method_of,
    minor,
    path,
    text,
    when,
)
from .stripe_lookup import Lookup, Offline
from .stripe_settlement import Settled, Settlement

PAYMENTS = frozenset({"charge.succeeded", "charge.captured", "payment_intent.succeeded", "invoice.paid"})
REFUNDS = frozenset({"charge.refunded"})
DISPUTES = frozenset({
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
})  # fmt: skip
HANDLED = PAYMENTS | REFUNDS | DISPUTES


@dataclass
class Context:
    """Where a payment's user and plan may be named, most specific first."""

    metadata: list[Mapping[str, Any]] = field(default_factory=list)
    customer: str | None = None
    prices: list[str] = field(default_factory=list)  # price and product ids of what was bought
    refs: dict[str, str] = field(default_factory=dict)  # invoice, subscription, payment_intent ids


class StripeEvents:
    """Turns Stripe events into costledger events, with the user and plan mapping of `[stripe]`."""

    def __init__(self, settings: StripeSettings, plans: Sequence[Plan] = (), lookup: Lookup | None = None) -> None:
        self.settings = settings
        self.tiers = {plan.name: plan.tier or plan.name for plan in plans}
        self.lookup: Lookup = lookup or Offline()
        self.money = Settlement(settings.usd_rates, self.lookup)

    def events(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The costledger events of one Stripe event ([] for a type costledger does not record)."""
        kind = text(event, "type")
        if kind not in HANDLED:
            return []
        data = event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(obj, Mapping) or not isinstance(data, Mapping):
            raise Unusable("data.object", "a Stripe event carries its object in data.object")
        source = {"event": text(event, "id"), "type": kind, "livemode": bool(event.get("livemode"))}
        if kind in PAYMENTS:
            found = self._payment(kind, obj, source)
            return [found] if found else []
        if kind in REFUNDS:
            previous = mapping(data.get("previous_attributes"))
            return self._refunds(obj, previous, source, when(event, "created", "created"))
        return self._dispute(obj, source)

    # --- payments ---------------------------------------------------------------------------

    def _payment(self, kind: str, obj: Mapping[str, Any], source: dict[str, Any]) -> dict[str, Any] | None:
        context = Context()
        if kind == "invoice.paid":
            charge = self._invoice_charge(obj, context)
        elif kind == "payment_intent.succeeded":
            charge = self._intent_charge(obj, context)
        else:
            charge = obj
        if charge is None:
            return None
        if charge.get("status") != "succeeded" or charge.get("captured") is False:
            return None  # authorised, not captured: `charge.captured` brings the money
        return self._from_charge(charge, context, source)

    def _invoice_charge(self, invoice: Mapping[str, Any], context: Context) -> Mapping[str, Any] | None:
        paid = minor(invoice, "amount_paid")
        if paid == 0:
            return None  # a free or fully credited invoice moved no money
        context.refs["invoice"] = text(invoice, "id")
        # Subscription metadata sits in `parent.subscription_details` since API 2025-03-31, at
        # the top level before; the subscription id likewise.
        details = path(invoice, "parent", "subscription_details") or invoice.get("subscription_details")
        if isinstance(details, Mapping):
            context.metadata.append(mapping(details.get("metadata")))
            subscription = details.get("subscription")
            if isinstance(subscription, str):
                context.refs["subscription"] = subscription
        if isinstance(invoice.get("subscription"), str):
            context.refs["subscription"] = invoice["subscription"]
        context.metadata.append(mapping(invoice.get("metadata")))
        context.customer = id_of(invoice.get("customer"))
        context.prices = invoice_prices(invoice)
        paid_with = id_of(invoice.get("charge")) or id_of(invoice.get("payment_intent"))
        if paid_with is None:
            for payment in items(invoice.get("payments")):
                inner = mapping(mapping(payment).get("payment"))
                paid_with = id_of(inner.get("charge")) or id_of(inner.get("payment_intent"))
                if paid_with:
                    break
        if paid_with is None:
            paid_with = self.lookup.invoice_payment(context.refs["invoice"])
        if paid_with is None:
            raise NeedsData(
                "data.object.payments",
                f"invoice {context.refs['invoice']} does not name the charge that paid it (API versions since "
                "2025-03-31 leave it out): set [stripe] api_key so costledger can read its payments",
            )
        if isinstance(invoice.get("payment_intent"), Mapping):
            return self._intent_charge(invoice["payment_intent"], context)
        if paid_with.startswith("pi_"):
            intent = self.lookup.payment_intent(paid_with)
            if intent is None:
                raise NeedsData("data.object", f"payment intent {paid_with} is not in the event: set [stripe] api_key")
            return self._intent_charge(intent, context)
        if isinstance(invoice.get("charge"), Mapping):
            return mapping(invoice["charge"])
        charge = self.lookup.charge(paid_with)
        if charge is None:
            raise NeedsData("data.object.charge", f"charge {paid_with} is not in the event: set [stripe] api_key")
        return charge

    def _intent_charge(self, intent: Mapping[str, Any], context: Context) -> Mapping[str, Any]:
        """The charge of a succeeded payment intent (built from the intent alone when nothing else tells)."""
        context.refs["payment_intent"] = text(intent, "id")
        context.metadata.insert(0, mapping(intent.get("metadata")))
        context.customer = context.customer or id_of(intent.get("customer"))
        latest = intent.get("latest_charge")
        if isinstance(latest, Mapping):
            return latest
        # API versions before 2022-11-15 embed the charges.
        embedded = items(mapping(intent.get("charges")).get("data"))
        if embedded:
            return mapping(embedded[-1])
        charge_id = latest if isinstance(latest, str) else None
        if charge_id is None:
            raise Unusable("data.object.latest_charge", "a succeeded payment intent names its charge")
        fetched = self.lookup.charge(charge_id)
        if fetched is not None:
            return fetched
        # Only the intent: amount and currency are known, the balance transaction is not.
        return {
            "id": charge_id,
            "object": "charge",
            "amount": minor(intent, "amount_received"),
            "amount_captured": minor(intent, "amount_received"),
            "currency": text(intent, "currency"),
            "created": intent.get("created"),
            "customer": intent.get("customer"),
            "metadata": {},
            "balance_transaction": None,
            "status": "succeeded",
            "payment_method_details": {"type": (items(intent.get("payment_method_types")) or ["card"])[0]},
        }

    def _from_charge(self, charge: Mapping[str, Any], context: Context, source: dict[str, Any]) -> dict[str, Any]:
        charge_id = text(charge, "id")
        currency = text(charge, "currency").lower()
        captured = charge.get("amount_captured")
        amount = major(captured if isinstance(captured, int) and captured > 0 else minor(charge, "amount"), currency)
        context.metadata.insert(0, mapping(charge.get("metadata")))
        context.customer = id_of(charge.get("customer")) or context.customer
        settled = self.money.settle(
            charge.get("balance_transaction"), amount, currency, "data.object.balance_transaction"
        )
        user, plan = self._user_and_plan(context)
        method = mapping(charge.get("payment_method_details"))
        card = mapping(method.get(str(method.get("type") or "card")))
        facts = {
            **source,
            "charge": charge_id,
            **context.refs,
            "customer": context.customer,
            "currency": currency,
            "amount": str(amount),
            "card_country": card.get("country"),
            "plan": plan,
            **settled.details,
        }
        return self._event(
            f"stripe:{charge_id}", when(charge), "payment", settled, method_of(charge), user, plan,
            facts,
        )  # fmt: skip

    def _user_and_plan(self, context: Context) -> tuple[str | None, str | None]:
        sources = list(context.metadata)
        plan = next((self.settings.plans[p] for p in context.prices if p in self.settings.plans), None)
        user = first(sources, self.settings.user_metadata_key)
        if (user is None or plan is None) and context.customer:
            customer = self.lookup.customer(context.customer)  # one API call, only when the event does not tell
            if customer is not None:
                sources.append(mapping(customer.get("metadata")))
                user = user or first(sources, self.settings.user_metadata_key)
        if user is None and context.customer:
            user = self.settings.customers.get(context.customer)
        return user, plan or first(sources, self.settings.plan_metadata_key)

    def _event(
        self, event_id: str, ts: dt.datetime, operation: str, settled: Settled, model: str, user: str | None,
        plan: str | None, facts: dict[str, Any],
    ) -> dict[str, Any]:  # fmt: skip
        event: dict[str, Any] = {
            "event_id": event_id,
            "ts": ts,
            "service": "stripe",
            "model": model,
            "operation": operation,
            "usage": {"amount_usd": settled.amount_usd},
            "metadata": {"stripe": {k: v for k, v in facts.items() if v not in (None, [], {})}},
        }
        if settled.fee_usd is not None:
            event["cost_usd"] = max(settled.fee_usd, Decimal(0))
        if user:
            event["user_id"] = user
        if plan:
            event["tier"] = self.tiers.get(plan, plan)
        return event

    # --- refunds ----------------------------------------------------------------------------

    def _refunds(
        self, charge: Mapping[str, Any], previous: Mapping[str, Any], source: dict[str, Any], at: dt.datetime
    ) -> list[dict[str, Any]]:
        charge_id = text(charge, "id")
        currency = text(charge, "currency").lower()
        user, plan = self._payer(charge)
        listed = charge.get("refunds")
        refunds: Sequence[Mapping[str, Any]] | None = None
        if isinstance(listed, Mapping) and not listed.get("has_more"):
            refunds = [mapping(r) for r in items(listed.get("data"))]  # API versions before 2022-11-15
        if refunds is None:
            refunds = self.lookup.refunds(charge_id)
        base = {**source, "charge": charge_id, "customer": id_of(charge.get("customer")), "plan": plan}
        if refunds is not None:
            out = []
            for refund in refunds:
                if refund.get("status") not in ("succeeded", "pending"):
                    continue  # failed or canceled: no money left
                amount = major(minor(refund, "amount"), currency)
                settled = self.money.refund(refund.get("balance_transaction"), charge, amount, currency)
                facts = {**base, "refund": refund.get("id"), "currency": currency, "amount": str(amount),
                         "reason": refund.get("reason"), **settled.details}  # fmt: skip
                out.append(self._event(f"stripe:{text(refund, 'id')}", when(refund), "refund", settled,
                                       method_of(charge), user, plan, facts))  # fmt: skip
            return out
        before = previous.get("amount_refunded")
        if not isinstance(before, int):
            raise NeedsData(
                "data.object.refunds",
                f"charge.refunded for {charge_id} carries neither its refunds nor the amount refunded before: "
                "set [stripe] api_key so costledger can list the refunds",
            )
        now = minor(charge, "amount_refunded")
        if now <= before:
            return []
        amount = major(now - before, currency)
        settled = self.money.refund(None, charge, amount, currency)
        facts = {**base, "currency": currency, "amount": str(amount), "refunded_total": str(major(now, currency)),
                 **settled.details}  # fmt: skip
        # The charge's running refunded total names this refund: a retry names the same one.
        return [self._event(f"stripe:{charge_id}:refunded:{now}", at, "refund", settled,
                            method_of(charge), user, plan, facts)]  # fmt: skip

    def _payer(self, charge: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The user and plan of a charge: as its payment was recorded, else from the charge itself."""
        recorded = self.lookup.recorded(f"stripe:{text(charge, 'id')}")
        if recorded is not None:
            meta = mapping(mapping(recorded.get("metadata")).get("stripe"))
            return recorded.get("user_id"), meta.get("plan") or recorded.get("tier")
        context = Context(metadata=[mapping(charge.get("metadata"))], customer=id_of(charge.get("customer")))
        return self._user_and_plan(context)

    # --- disputes ---------------------------------------------------------------------------

    def _dispute(self, dispute: Mapping[str, Any], source: dict[str, Any]) -> list[dict[str, Any]]:
        charge = dispute.get("charge")
        charge_id = id_of(charge)
        if charge_id is None:
            raise Unusable("data.object.charge", "a dispute names its charge")
        if not isinstance(charge, Mapping):
            charge = self.lookup.charge(charge_id) or {"id": charge_id}
        user, plan = self._payer(charge)
        out = []
        for index, raw in enumerate(items(dispute.get("balance_transactions"))):
            txn = self.lookup.balance_transaction(raw) if isinstance(raw, str) else raw
            if not isinstance(txn, Mapping):
                where = f"data.object.balance_transactions.{index}"
                raise NeedsData(where, "a dispute's balance transaction is not in the event: set [stripe] api_key")
            settled = self.money.from_txn(txn, f"data.object.balance_transactions.{index}")
            withdrawn = minor(txn, "amount") < 0 or (minor(txn, "amount") == 0 and minor(txn, "fee") > 0)
            facts = {
                **source, "dispute": dispute.get("id"), "charge": charge_id, "status": dispute.get("status"),
                "reason": dispute.get("reason"), "plan": plan, "currency": text(txn, "currency").lower(),
                "amount": str(major(abs(minor(txn, "amount")), text(txn, "currency").lower())), **settled.details,
            }  # fmt: skip
            if settled.fee_usd is not None and settled.fee_usd < 0:
                facts["fee_returned_usd"] = str(-settled.fee_usd)  # Stripe gave the dispute fee back
            out.append(self._event(f"stripe:{text(txn, 'id')}", when(txn), "dispute" if withdrawn else
                                   "dispute_reversal", settled, method_of(charge), user, plan, facts))  # fmt: skip
        return out


__all__ = ["DISPUTES", "HANDLED", "PAYMENTS", "REFUNDS", "StripeEvents"]
