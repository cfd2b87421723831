"""Why a webhook's request stores nothing: each maps to one HTTP answer (see costledger.server.webhooks_*)."""

from __future__ import annotations


class BadSignature(ValueError):
    """The request is not provably from the provider, or is too old (400)."""


class Unusable(ValueError):
    """An authentic request whose content cannot be read (422): `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class NeedsData(Unusable):
    """Sound, but lacking what an exact record needs (a rate, the refunds); the message says how to provide it."""


class SourceUnavailable(RuntimeError):
    """The provider's API did not answer what the event names (502: the provider retries the delivery)."""


__all__ = ["BadSignature", "NeedsData", "SourceUnavailable", "Unusable"]
