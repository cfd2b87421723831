"""The HTTP service: a thin FastAPI layer over the Ledger (`costledger serve`)."""

from __future__ import annotations

from .app import ROUTERS, create_app

__all__ = ["ROUTERS", "create_app"]
