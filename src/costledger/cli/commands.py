"""Registers every command module on the app (import order is the help order)."""

from __future__ import annotations

from . import pricing, recording  # noqa: F401
