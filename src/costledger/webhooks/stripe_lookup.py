"""What a Stripe event may name without carrying it, and a lookup that knows nothing.

`sources.StripeLookup` answers through Stripe's API and the ledger; tests and the demo use
data they hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Lookup(Protocol):
    """What an event may name without carrying it. Every method answers None when it cannot tell."""

    def charge(self, charge_id: str) -> Mapping[str, Any] | None: ...  # balance_transaction expanded
    def balance_transaction(self, txn_id: str) -> Mapping[str, Any] | None: ...
    def customer(self, customer_id: str) -> Mapping[str, Any] | None: ...
    def refunds(self, charge_id: str) -> Sequence[Mapping[str, Any]] | None: ...  # each with its balance transaction
    def payment_intent(self, intent_id: str) -> Mapping[str, Any] | None: ...  # latest_charge expanded
    def invoice_payment(self, invoice_id: str) -> str | None: ...  # the pi_… or ch_… that paid the invoice
    def recorded(self, event_id: str) -> Mapping[str, Any] | None: ...  # a payment the ledger holds


class Offline:
    """A lookup that knows nothing: only what the events carry counts."""

    def charge(self, charge_id: str) -> Mapping[str, Any] | None:
        return None

    def balance_transaction(self, txn_id: str) -> Mapping[str, Any] | None:
        return None

    def customer(self, customer_id: str) -> Mapping[str, Any] | None:
        return None

    def refunds(self, charge_id: str) -> Sequence[Mapping[str, Any]] | None:
        return None

    def payment_intent(self, intent_id: str) -> Mapping[str, Any] | None:
        return None

    def invoice_payment(self, invoice_id: str) -> str | None:
        return None

    def recorded(self, event_id: str) -> Mapping[str, Any] | None:
        return None


__all__ = ["Lookup", "Offline"]
