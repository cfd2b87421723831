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
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

from ..config import Plan, StripeSettings
from .problems import NeedsData, Unusable

PAYMENTS = frozenset({"charge.succeeded", "charge.captured", "payment_intent.succeeded", "invoice.paid"})
REFUNDS = frozenset({"charge.refunded"})
DISPUTES = frozenset({
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
})  # fmt: skip
HANDLED = PAYMENTS | REFUNDS | DISPUTES

# Stripe writes amounts in the currency's smallest unit; these have none, or three digits.
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
})  # fmt: skip
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
CENT = Decimal("0.01")


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


def major(amount: int, currency: str) -> Decimal:
    """A Stripe amount (smallest unit) in the currency's unit: 2900 eur → 29.00, 2900 jpy → 2900."""
    digits = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return Decimal(amount).scaleb(-digits)


@dataclass
class Context:
    """Where a payment's user and plan may be named, most specific first."""

    metadata: list[Mapping[str, Any]] = field(default_factory=list)
    customer: str | None = None
    prices: list[str] = field(default_factory=list)  # price and product ids of what was bought
    refs: dict[str, str] = field(default_factory=dict)  # invoice, subscription, payment_intent ids


@dataclass(frozen=True)
class Settled:
    """Money as the account received it: USD amount, fee and net, and where each came from."""

    amount_usd: Decimal
    fee_usd: Decimal | None  # None: not known, the catalog estimates it
    details: dict[str, Any]


class StripeEvents:
    """Turns Stripe events into costledger events, with the user and plan mapping of `[stripe]`."""

    def __init__(self, settings: StripeSettings, plans: Sequence[Plan] = (), lookup: Lookup | None = None) -> None:
        self.settings = settings
        self.tiers = {plan.name: plan.tier or plan.name for plan in plans}
        self.lookup: Lookup = lookup or Offline()

    def events(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The costledger events of one Stripe event ([] for a type costledger does not record)."""
        kind = _text(event, "type")
        if kind not in HANDLED:
            return []
        data = event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(obj, Mapping) or not isinstance(data, Mapping):
            raise Unusable("data.object", "a Stripe event carries its object in data.object")
        source = {"event": _text(event, "id"), "type": kind, "livemode": bool(event.get("livemode"))}
        if kind in PAYMENTS:
            found = self._payment(kind, obj, source)
            return [found] if found else []
        if kind in REFUNDS:
            previous = _mapping(data.get("previous_attributes"))
            return self._refunds(obj, previous, source, _when(event, "created", "created"))
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
        paid = _int(invoice, "amount_paid")
        if paid == 0:
            return None  # a free or fully credited invoice moved no money
        context.refs["invoice"] = _text(invoice, "id")
        # Subscription metadata sits in `parent.subscription_details` since API 2025-03-31, at
        # the top level before; the subscription id likewise.
        details = _path(invoice, "parent", "subscription_details") or invoice.get("subscription_details")
        if isinstance(details, Mapping):
            context.metadata.append(_mapping(details.get("metadata")))
            subscription = details.get("subscription")
            if isinstance(subscription, str):
                context.refs["subscription"] = subscription
        if isinstance(invoice.get("subscription"), str):
            context.refs["subscription"] = invoice["subscription"]
        context.metadata.append(_mapping(invoice.get("metadata")))
        context.customer = _id_of(invoice.get("customer"))
        context.prices = _invoice_prices(invoice)
        paid_with = _id_of(invoice.get("charge")) or _id_of(invoice.get("payment_intent"))
        if paid_with is None:
            for payment in _list(invoice.get("payments")):
                inner = _mapping(_mapping(payment).get("payment"))
                paid_with = _id_of(inner.get("charge")) or _id_of(inner.get("payment_intent"))
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
            return _mapping(invoice["charge"])
        charge = self.lookup.charge(paid_with)
        if charge is None:
            raise NeedsData("data.object.charge", f"charge {paid_with} is not in the event: set [stripe] api_key")
        return charge

    def _intent_charge(self, intent: Mapping[str, Any], context: Context) -> Mapping[str, Any]:
        """The charge of a succeeded payment intent (built from the intent alone when nothing else tells)."""
        context.refs["payment_intent"] = _text(intent, "id")
        context.metadata.insert(0, _mapping(intent.get("metadata")))
        context.customer = context.customer or _id_of(intent.get("customer"))
        latest = intent.get("latest_charge")
        if isinstance(latest, Mapping):
            return latest
        # API versions before 2022-11-15 embed the charges.
        embedded = _list(_mapping(intent.get("charges")).get("data"))
        if embedded:
            return _mapping(embedded[-1])
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
            "amount": _int(intent, "amount_received"),
            "amount_captured": _int(intent, "amount_received"),
            "currency": _text(intent, "currency"),
            "created": intent.get("created"),
            "customer": intent.get("customer"),
            "metadata": {},
            "balance_transaction": None,
            "status": "succeeded",
            "payment_method_details": {"type": (_list(intent.get("payment_method_types")) or ["card"])[0]},
        }

    def _from_charge(self, charge: Mapping[str, Any], context: Context, source: dict[str, Any]) -> dict[str, Any]:
        charge_id = _text(charge, "id")
        currency = _text(charge, "currency").lower()
        captured = charge.get("amount_captured")
        amount = major(captured if isinstance(captured, int) and captured > 0 else _int(charge, "amount"), currency)
        context.metadata.insert(0, _mapping(charge.get("metadata")))
        context.customer = _id_of(charge.get("customer")) or context.customer
        settled = self._settle(charge.get("balance_transaction"), amount, currency, "data.object.balance_transaction")
        user, plan = self._user_and_plan(context)
        method = _mapping(charge.get("payment_method_details"))
        card = _mapping(method.get(str(method.get("type") or "card")))
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
            f"stripe:{charge_id}", _when(charge), "payment", settled, str(method.get("type") or "card"), user, plan,
            facts,
        )  # fmt: skip

    def _settle(self, txn: Any, amount: Decimal, currency: str, where: str) -> Settled:
        """USD amount and fee from the balance transaction (carried, or fetched), else an estimate."""
        if isinstance(txn, str):
            txn = self.lookup.balance_transaction(txn) or txn
        if isinstance(txn, Mapping):
            return self._from_txn(txn, where)
        return Settled(self._usd(amount, currency, where), None, {"fee_source": "estimated"})

    def _from_txn(self, txn: Mapping[str, Any], where: str) -> Settled:
        currency = _text(txn, "currency").lower()
        gross, fee, net = (major(_int(txn, k), currency) for k in ("amount", "fee", "net"))
        rate = txn.get("exchange_rate")
        details: dict[str, Any] = {
            "fee_source": "balance_transaction",
            "balance_transaction": txn.get("id"),
            "exchange_rate": None if rate is None else str(rate),
            "fee_details": [
                {"type": d.get("type"), "amount": str(major(_int(d, "amount"), currency))}
                for d in map(_mapping, _list(txn.get("fee_details")))
            ],
        }
        if currency != "usd":
            # An account that settles in another currency: its figures are exact in that
            # currency, and the USD view uses the configured rate (shown as such).
            usd_rate = self._rate(currency, where)
            details.update(settlement_currency=currency, settlement_amount=str(gross), settlement_fee=str(fee),
                           usd_rate=str(usd_rate), usd_rate_source="[stripe] usd_rates")  # fmt: skip
            gross, fee, net = ((v * usd_rate).quantize(CENT, ROUND_HALF_EVEN) for v in (gross, fee, net))
        details["net_usd"] = str(net)
        return Settled(abs(gross), fee, details)

    def _usd(self, amount: Decimal, currency: str, where: str) -> Decimal:
        if currency == "usd":
            return amount
        return (amount * self._rate(currency, where)).quantize(CENT, ROUND_HALF_EVEN)

    def _rate(self, currency: str, where: str) -> Decimal:
        rate = self.settings.usd_rates.get(currency)
        if rate is None:
            raise NeedsData(
                where,
                f"an amount in {currency.upper()} without Stripe's balance transaction has no USD value: set "
                f'[stripe] api_key so costledger reads it, or [stripe] usd_rates = {{ {currency} = "…" }} to estimate',
            )
        return rate

    def _user_and_plan(self, context: Context) -> tuple[str | None, str | None]:
        sources = list(context.metadata)
        plan = next((self.settings.plans[p] for p in context.prices if p in self.settings.plans), None)
        user = _first(sources, self.settings.user_metadata_key)
        if (user is None or plan is None) and context.customer:
            customer = self.lookup.customer(context.customer)  # one API call, only when the event does not tell
            if customer is not None:
                sources.append(_mapping(customer.get("metadata")))
                user = user or _first(sources, self.settings.user_metadata_key)
        if user is None and context.customer:
            user = self.settings.customers.get(context.customer)
        return user, plan or _first(sources, self.settings.plan_metadata_key)

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
        charge_id = _text(charge, "id")
        currency = _text(charge, "currency").lower()
        user, plan = self._payer(charge)
        listed = charge.get("refunds")
        refunds: Sequence[Mapping[str, Any]] | None = None
        if isinstance(listed, Mapping) and not listed.get("has_more"):
            refunds = [_mapping(r) for r in _list(listed.get("data"))]  # API versions before 2022-11-15
        if refunds is None:
            refunds = self.lookup.refunds(charge_id)
        base = {**source, "charge": charge_id, "customer": _id_of(charge.get("customer")), "plan": plan}
        if refunds is not None:
            out = []
            for refund in refunds:
                if refund.get("status") not in ("succeeded", "pending"):
                    continue  # failed or canceled: no money left
                amount = major(_int(refund, "amount"), currency)
                settled = self._refund_money(refund.get("balance_transaction"), charge, amount, currency)
                facts = {**base, "refund": refund.get("id"), "currency": currency, "amount": str(amount),
                         "reason": refund.get("reason"), **settled.details}  # fmt: skip
                out.append(self._event(f"stripe:{_text(refund, 'id')}", _when(refund), "refund", settled,
                                       _model_of(charge), user, plan, facts))  # fmt: skip
            return out
        before = previous.get("amount_refunded")
        if not isinstance(before, int):
            raise NeedsData(
                "data.object.refunds",
                f"charge.refunded for {charge_id} carries neither its refunds nor the amount refunded before: "
                "set [stripe] api_key so costledger can list the refunds",
            )
        now = _int(charge, "amount_refunded")
        if now <= before:
            return []
        amount = major(now - before, currency)
        settled = self._refund_money(None, charge, amount, currency)
        facts = {**base, "currency": currency, "amount": str(amount), "refunded_total": str(major(now, currency)),
                 **settled.details}  # fmt: skip
        # The charge's running refunded total names this refund: a retry names the same one.
        return [self._event(f"stripe:{charge_id}:refunded:{now}", at, "refund", settled,
                            _model_of(charge), user, plan, facts)]  # fmt: skip

    def _refund_money(self, txn: Any, charge: Mapping[str, Any], amount: Decimal, currency: str) -> Settled:
        """A refund leaves at its own balance transaction's rate; without one, at the charge's (an estimate).

        Stripe returns no fee on a refund and charges none for it.
        """
        if isinstance(txn, str):
            txn = self.lookup.balance_transaction(txn) or txn
        if isinstance(txn, Mapping):
            return self._from_txn(txn, "data.object.refunds")
        paid = charge.get("balance_transaction")
        if isinstance(paid, str):
            paid = self.lookup.balance_transaction(paid)
        if not isinstance(paid, Mapping):
            return Settled(self._usd(amount, currency, "data.object.currency"), Decimal(0), {"usd_source": "estimated"})
        settlement = _text(paid, "currency").lower()
        rate = paid.get("exchange_rate")
        value = amount * Decimal(str(rate)) if rate is not None else amount
        if settlement != "usd":
            value *= self._rate(settlement, "data.object.balance_transaction")
        return Settled(value.quantize(CENT, ROUND_HALF_EVEN), Decimal(0), {"usd_source": "the charge's exchange rate"})

    def _payer(self, charge: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The user and plan of a charge: as its payment was recorded, else from the charge itself."""
        recorded = self.lookup.recorded(f"stripe:{_text(charge, 'id')}")
        if recorded is not None:
            meta = _mapping(_mapping(recorded.get("metadata")).get("stripe"))
            return recorded.get("user_id"), meta.get("plan") or recorded.get("tier")
        context = Context(metadata=[_mapping(charge.get("metadata"))], customer=_id_of(charge.get("customer")))
        return self._user_and_plan(context)

    # --- disputes ---------------------------------------------------------------------------

    def _dispute(self, dispute: Mapping[str, Any], source: dict[str, Any]) -> list[dict[str, Any]]:
        charge = dispute.get("charge")
        charge_id = _id_of(charge)
        if charge_id is None:
            raise Unusable("data.object.charge", "a dispute names its charge")
        if not isinstance(charge, Mapping):
            charge = self.lookup.charge(charge_id) or {"id": charge_id}
        user, plan = self._payer(charge)
        out = []
        for index, raw in enumerate(_list(dispute.get("balance_transactions"))):
            txn = self.lookup.balance_transaction(raw) if isinstance(raw, str) else raw
            if not isinstance(txn, Mapping):
                where = f"data.object.balance_transactions.{index}"
                raise NeedsData(where, "a dispute's balance transaction is not in the event: set [stripe] api_key")
            settled = self._from_txn(txn, f"data.object.balance_transactions.{index}")
            withdrawn = _int(txn, "amount") < 0 or (_int(txn, "amount") == 0 and _int(txn, "fee") > 0)
            facts = {
                **source, "dispute": dispute.get("id"), "charge": charge_id, "status": dispute.get("status"),
                "reason": dispute.get("reason"), "plan": plan, "currency": _text(txn, "currency").lower(),
                "amount": str(major(abs(_int(txn, "amount")), _text(txn, "currency").lower())), **settled.details,
            }  # fmt: skip
            if settled.fee_usd is not None and settled.fee_usd < 0:
                facts["fee_returned_usd"] = str(-settled.fee_usd)  # Stripe gave the dispute fee back
            out.append(self._event(f"stripe:{_text(txn, 'id')}", _when(txn), "dispute" if withdrawn else
                                   "dispute_reversal", settled, _model_of(charge), user, plan, facts))  # fmt: skip
        return out


def _invoice_prices(invoice: Mapping[str, Any]) -> list[str]:
    """Price and product ids of an invoice's lines, in both API shapes (`price` before 2025-03-31, `pricing` since)."""
    out: list[str] = []
    for line in map(_mapping, _list(_mapping(invoice.get("lines")).get("data"))):
        details = _mapping(_mapping(line.get("pricing")).get("price_details"))
        price = _mapping(line.get("price")) or _mapping(line.get("plan"))
        for value in (details.get("price"), details.get("product"), price.get("id"), price.get("product")):
            found = _id_of(value)
            if found and found not in out:
                out.append(found)
    return out


def _model_of(charge: Mapping[str, Any]) -> str:
    return str(_mapping(charge.get("payment_method_details")).get("type") or "card")


def _when(obj: Mapping[str, Any], key: str = "created", where: str | None = None) -> dt.datetime:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 946_684_800 <= value <= 4_102_444_800:
        raise Unusable(where or f"data.object.{key}", f"expected a Unix time between 2000 and 2100, got {value!r}")
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _first(sources: Sequence[Mapping[str, Any]], key: str) -> str | None:
    for metadata in sources:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Unusable(f"data.object.{key}" if key not in ("type", "id") else key, f"expected a string, got {value!r}")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 10**14:
        raise Unusable(f"data.object.{key}", f"expected an amount in the currency's smallest unit, got {value!r}")
    return value


def _id_of(value: Any) -> str | None:
    """An expandable field's id: the string, or the expanded object's `id`."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _path(obj: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        obj = _mapping(obj.get(key))
    return obj or None


__all__ = ["DISPUTES", "HANDLED", "PAYMENTS", "REFUNDS", "Lookup", "Offline", "StripeEvents", "major"]
