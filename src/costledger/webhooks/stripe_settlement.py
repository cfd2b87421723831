"""What a Stripe movement of money came to in USD, with its fee, and where each figure came from.

Stripe's balance transaction is the truth (what reached the account, after conversion, and the
exact fee); without one the USD amount is exact for USD, converted at a configured rate, or
refused, and the fee is left to the catalog's estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from .problems import NeedsData
from .stripe_fields import exchange_rate, items, major, mapping, minor, text
from .stripe_lookup import Lookup

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Settled:
    """Money as the account received it: USD amount, fee and net, and where each came from."""

    amount_usd: Decimal
    fee_usd: Decimal | None  # None: not known, the catalog estimates it
    details: dict[str, Any]


class Settlement:
    """Settles amounts with the `[stripe] usd_rates` and the balance transactions a `Lookup` fetches."""

    def __init__(self, usd_rates: Mapping[str, Decimal], lookup: Lookup) -> None:
        self.usd_rates = usd_rates
        self.lookup = lookup

    def settle(self, txn: Any, amount: Decimal, currency: str, where: str) -> Settled:
        """USD amount and fee from the balance transaction (carried, or fetched), else an estimate."""
        if isinstance(txn, str):
            txn = self.lookup.balance_transaction(txn) or txn
        if isinstance(txn, Mapping):
            return self.from_txn(txn, where)
        return Settled(self.usd(amount, currency, where), None, {"fee_source": "estimated"})

    def from_txn(self, txn: Mapping[str, Any], where: str) -> Settled:
        currency = text(txn, "currency").lower()
        gross, fee, net = (major(minor(txn, k), currency) for k in ("amount", "fee", "net"))
        rate = exchange_rate(txn)
        details: dict[str, Any] = {
            "fee_source": "balance_transaction",
            "balance_transaction": txn.get("id"),
            "exchange_rate": None if rate is None else str(rate),
            "fee_details": [
                {"type": d.get("type"), "amount": str(major(minor(d, "amount"), currency))}
                for d in map(mapping, items(txn.get("fee_details")))
            ],
        }
        if currency != "usd":
            # An account that settles in another currency: its figures are exact in that
            # currency, and the USD view uses the configured rate (shown as such).
            usd_rate = self.rate(currency, where)
            details.update(settlement_currency=currency, settlement_amount=str(gross), settlement_fee=str(fee),
                           usd_rate=str(usd_rate), usd_rate_source="[stripe] usd_rates")  # fmt: skip
            gross, fee, net = ((v * usd_rate).quantize(CENT, ROUND_HALF_EVEN) for v in (gross, fee, net))
        details["net_usd"] = str(net)
        return Settled(abs(gross), fee, details)

    def usd(self, amount: Decimal, currency: str, where: str) -> Decimal:
        if currency == "usd":
            return amount
        return (amount * self.rate(currency, where)).quantize(CENT, ROUND_HALF_EVEN)

    def rate(self, currency: str, where: str) -> Decimal:
        rate = self.usd_rates.get(currency)
        if rate is None:
            raise NeedsData(
                where,
                f"an amount in {currency.upper()} without Stripe's balance transaction has no USD value: set "
                f'[stripe] api_key so costledger reads it, or [stripe] usd_rates = {{ {currency} = "…" }} to estimate',
            )
        return rate

    def refund(self, txn: Any, charge: Mapping[str, Any], amount: Decimal, currency: str) -> Settled:
        """A refund leaves at its own balance transaction's rate; without one, at the charge's (an estimate).

        Stripe returns no fee on a refund and charges none for it.
        """
        if isinstance(txn, str):
            txn = self.lookup.balance_transaction(txn) or txn
        if isinstance(txn, Mapping):
            return self.from_txn(txn, "data.object.refunds")
        paid = charge.get("balance_transaction")
        if isinstance(paid, str):
            paid = self.lookup.balance_transaction(paid)
        if not isinstance(paid, Mapping):
            return Settled(self.usd(amount, currency, "data.object.currency"), Decimal(0), {"usd_source": "estimated"})
        settlement = text(paid, "currency").lower()
        rate = exchange_rate(paid)
        value = amount * rate if rate is not None else amount
        if settlement != "usd":
            value *= self.rate(settlement, "data.object.balance_transaction")
        return Settled(value.quantize(CENT, ROUND_HALF_EVEN), Decimal(0), {"usd_source": "the charge's exchange rate"})
