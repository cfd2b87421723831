"""Registers every command module on the app (import order is the help order)."""

from __future__ import annotations

from . import alerts, demo, margins, pricing, recording, serve, sessions, storage  # noqa: F401
