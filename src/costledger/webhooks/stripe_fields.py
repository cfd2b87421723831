"""Reading Stripe's objects: amounts in a currency's smallest unit, expandable fields, both API shapes.

Every reader names the field it refuses (`data.object.created`), so a 422 says what was wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from .problems import Unusable

# Stripe writes amounts in the currency's smallest unit; these have none, or three digits.
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
})  # fmt: skip
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def major(amount: int, currency: str) -> Decimal:
    """A Stripe amount (smallest unit) in the currency's unit: 2900 eur → 29.00, 2900 jpy → 2900."""
    digits = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return Decimal(amount).scaleb(-digits)


def invoice_prices(invoice: Mapping[str, Any]) -> list[str]:
    """Price and product ids of an invoice's lines, in both API shapes (`price` before 2025-03-31, `pricing` since)."""
    out: list[str] = []
    for line in map(mapping, items(mapping(invoice.get("lines")).get("data"))):
        details = mapping(mapping(line.get("pricing")).get("price_details"))
        price = mapping(line.get("price")) or mapping(line.get("plan"))
        for value in (details.get("price"), details.get("product"), price.get("id"), price.get("product")):
            found = id_of(value)
            if found and found not in out:
                out.append(found)
    return out


# The catalog prices Stripe's US rules: a card issued elsewhere is international, and a charge
# in another currency than the account's (USD) is converted.
ACCOUNT_COUNTRY, ACCOUNT_CURRENCY = "US", "usd"


def method_of(charge: Mapping[str, Any]) -> str:
    """The catalog model of a charge: its payment method, for cards with Stripe's surcharges named.

    card, card-international (+1.5 %), card-conversion (+1 %), card-international-conversion.
    """
    details = mapping(charge.get("payment_method_details"))
    method = str(details.get("type") or "card")
    if method != "card":
        return method
    country = mapping(details.get("card")).get("country")
    international = isinstance(country, str) and country.upper() != ACCOUNT_COUNTRY
    converted = str(charge.get("currency") or ACCOUNT_CURRENCY).lower() != ACCOUNT_CURRENCY
    return "card" + ("-international" if international else "") + ("-conversion" if converted else "")


def when(obj: Mapping[str, Any], key: str = "created", where: str | None = None) -> dt.datetime:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 946_684_800 <= value <= 4_102_444_800:
        raise Unusable(where or f"data.object.{key}", f"expected a Unix time between 2000 and 2100, got {value!r}")
    return dt.datetime.fromtimestamp(value, dt.UTC)


def first(sources: Sequence[Mapping[str, Any]], key: str) -> str | None:
    for metadata in sources:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Unusable(f"data.object.{key}" if key not in ("type", "id") else key, f"expected a string, got {value!r}")
    return value


def exchange_rate(txn: Mapping[str, Any]) -> Decimal | None:
    """A balance transaction's `exchange_rate` (charge currency → settlement currency), exactly as written."""
    value = txn.get("exchange_rate")
    if value is None:
        return None
    try:
        rate = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite() or not 0 < rate < 10**9:
        raise Unusable("data.object.balance_transaction.exchange_rate", f"expected a positive rate, got {value!r}")
    return rate


def minor(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 10**14:
        raise Unusable(f"data.object.{key}", f"expected an amount in the currency's smallest unit, got {value!r}")
    return value


def id_of(value: Any) -> str | None:
    """An expandable field's id: the string, or the expanded object's `id`."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def path(obj: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        obj = mapping(obj.get(key))
    return obj or None


__all__ = [
    "ACCOUNT_COUNTRY", "ACCOUNT_CURRENCY", "THREE_DECIMAL", "ZERO_DECIMAL", "exchange_rate", "first", "id_of",
    "invoice_prices", "items", "major", "mapping", "method_of", "minor", "path", "text", "when",
]  # fmt: skip
