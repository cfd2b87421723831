"""The errors costledger raises. Each carries a message a person can act on."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


class CostledgerError(Exception):
    """Base of every error costledger raises on purpose."""


class InvalidEvent(CostledgerError, ValueError):
    """A usage event (or a batch) was refused; nothing of it was stored.

    `errors` lists one entry per problem: the event's index in the batch (None for
    a single event), the field path and the message.
    """

    def __init__(self, errors: Sequence[tuple[int | None, str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(_describe(i, field, msg) for i, field, msg in self.errors))

    def as_dicts(self) -> list[dict[str, object]]:
        return [{"index": i, "field": field, "message": msg} for i, field, msg in self.errors]


def _describe(index: int | None, field: str, message: str) -> str:
    where = f"event {index}: " if index is not None else ""
    return f"{where}{field}: {message}" if field else f"{where}{message}"


class UnknownPrice(CostledgerError, LookupError):
    """No price is known for this service/model at that time. costledger never guesses one."""

    def __init__(
        self, service: str, model: str | None, suggestions: Sequence[str] = (), reason: str | None = None
    ) -> None:
        self.service = service
        self.model = model
        self.suggestions = list(suggestions)
        self.reason = reason
        what = f"{service}:{model}" if model else f"service {service!r} (no model given)"
        why = f" ({reason})" if reason else ""
        hint = f" (did you mean {', '.join(self.suggestions)}?)" if self.suggestions else ""
        super().__init__(f"no price known for {what}{why}{hint}")


class ConfigError(CostledgerError, ValueError):
    """costledger.toml could not be used; the message names the file, line and key."""


class BudgetExceeded(CostledgerError):
    """Spending `estimate` more would break a budget. Carries the figures to show the caller:
    the limit, what was spent, what other callers hold reserved, and what is left."""

    def __init__(self, budget: str, limit: Decimal, spent: Decimal, reserved: Decimal, estimate: Decimal) -> None:
        self.budget = budget
        self.limit = limit
        self.spent = spent
        self.reserved = reserved
        self.remaining = max(limit - spent - reserved, Decimal(0))
        self.estimate = estimate
        super().__init__(
            f"budget {budget!r} would be exceeded: limit ${_plain(limit)}, spent ${_plain(spent)}, "
            f"reserved ${_plain(reserved)}, left ${_plain(self.remaining)}, asked ${_plain(estimate)}"
        )


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(), "f")
