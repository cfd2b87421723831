"""Serving the dashboard for `costledger demo`: a fresh admin key, the URL, uvicorn."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console


def serve_with_admin_key(database: Path, config: Path, host: str, port: int) -> None:
    import uvicorn

    from ..keys import create_key
    from ..server.app import create_app
    from ..store import Store

    store = Store(str(database))
    try:
        key, _ = create_key(store, "admin", "costledger demo")
    finally:
        store.close()
    app = create_app(str(database), config=str(config))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console = Console()
    console.print(f"\n[bold]Dashboard:[/bold] http://{shown}:{port}/")
    console.print(f"[bold]Admin key:[/bold] {key}")
    console.print("Sign in with the key (it is stored hashed; this is the only time it is shown). Ctrl-C stops.\n")
    uvicorn.run(app, host=host, port=port, log_level="warning")
