"""Serving the dashboard for `costledger demo`: its port, its admin key, the URL, uvicorn.

The port is taken before anything is recorded, and handed to uvicorn as a bound socket,
so a port in use is one clear line before the work and nobody can take it in between.
The demo keeps the admin key it made (owner-only, next to its database) and shows it
again on the next run, while it is still active: re-running the demo neither signs the
browser out nor piles up keys.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from rich.console import Console

KEY_NAME = "costledger demo"
KEY_FILE = "admin-key"


class PortUnavailable(OSError):
    """The dashboard cannot listen where it was asked to; the message says what to do."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (not yet listening), or PortUnavailable saying why and what to try."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}: {exc.strerror}; give an address such as 127.0.0.1") from None
    sock = socket.socket(family, kind, proto)
    # As uvicorn does: a port left in TIME_WAIT by the last run is free to take again.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(
                f"port {port} on {host} is in use by another program; choose another: "
                f"make demo PORT={port + 1}, or costledger demo --port {port + 1}"
            ) from None
        if exc.errno == errno.EACCES:
            raise PortUnavailable(f"port {port} needs more privileges; choose one above 1023") from None
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def demo_admin_key(database: Path) -> tuple[str, bool]:
    """The demo's admin key and whether it is the one shown before (else a new one, older ones revoked)."""
    from ..keys import KeyVerifier, create_key, list_keys, revoke_key
    from ..store import Store

    kept = database.parent / KEY_FILE
    store = Store(str(database))
    try:
        if kept.is_file():
            key = kept.read_text(encoding="utf-8").strip()
            found = KeyVerifier(store).verify(key)
            if found is not None and found.active and found.scope == "admin":
                return key, True
        for old in list_keys(store, include_revoked=False):
            if old.name == KEY_NAME and old.scope == "admin":
                revoke_key(store, str(old.id))
        key, _ = create_key(store, "admin", KEY_NAME)
    finally:
        store.close()
    descriptor = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key, False


def serve_with_admin_key(database: Path, config: Path, host: str, port: int, sock: socket.socket) -> None:
    """Serve the dashboard on the bound `sock` until Ctrl-C, after printing its URL and admin key."""
    import uvicorn

    from ..server.app import create_app

    key, again = demo_admin_key(database)
    app = create_app(str(database), config=str(config))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console = Console()
    console.print(f"\n[bold]Dashboard:[/bold] http://{shown}:{port}/")
    console.print(f"[bold]Admin key:[/bold] {key}")
    kept = database.parent / KEY_FILE
    console.print(
        ("The same key as last time" if again else "A new key")
        + f" (kept in {kept}, readable by you only; `costledger keys revoke` ends it). Ctrl-C stops.\n",
        soft_wrap=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    server.run(sockets=[sock])


__all__ = ["KEY_FILE", "KEY_NAME", "PortUnavailable", "demo_admin_key", "listen", "serve_with_admin_key"]
