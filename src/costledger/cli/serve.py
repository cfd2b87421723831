"""`costledger serve` (the HTTP service) and `costledger keys` (its API keys)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Annotated

import typer

from .app import ConfigOption, DbOption, JsonOption, app, console, fail, find_ledger, load, open_store
from .output import Column, moment, show

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # not imported from server.metrics: that imports prometheus_client

keys_app = typer.Typer(help="API keys for the HTTP service: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (use PostgreSQL for more than one)")] = 1,
    db: DbOption = None,
    config: ConfigOption = None,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    header_timeout: Annotated[
        float | None, typer.Option(help="seconds a connection has to send a request's headers (default 10)")
    ] = None,
    body_timeout: Annotated[
        float | None, typer.Option(help="seconds a request has to send its body after the headers (default 60)")
    ] = None,
    max_connections: Annotated[
        int | None, typer.Option(help="open connections per worker, at most (default 1000)")
    ] = None,
) -> None:
    """Serve the HTTP API (FastAPI + uvicorn). $COSTLEDGER_ADMIN_KEY, if set, becomes an admin key."""
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from ..errors import ConfigError
    from ..keys import ensure_admin_key
    from ..limits import ENV as LIMITS_ENV
    from ..limits import from_environment
    from ..server.connections import raise_file_limit
    from ..store import Store
    from ..store.engine import ENV_URL, database_url
    from ..store.outage import outage

    # Workers are separate interpreters: they learn the database, config and limits from the environment.
    loaded = load(config)
    os.environ[ENV_URL] = database_url(find_ledger(db, config, loaded, create=True).target)
    if loaded.path is not None:
        os.environ["COSTLEDGER_CONFIG"] = str(loaded.path.resolve())
    given = {"header_timeout": header_timeout, "body_timeout": body_timeout, "max_connections": max_connections}
    for name, value in given.items():
        if value is not None:
            os.environ[LIMITS_ENV[name]] = str(value)
    owned_metrics_dir = None
    # Set before any worker imports prometheus_client, which picks its storage at import.
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        owned_metrics_dir = tempfile.mkdtemp(prefix="costledger-metrics-")
        os.environ[MULTIPROC_ENV] = owned_metrics_dir
    try:
        # Check the config, migrate and bootstrap once here, so workers start against a current
        # schema. Not a whole Ledger: the price catalog would stay in this supervisor's memory.
        from_environment(loaded.server)
        store = Store(None)
        try:
            ensure_admin_key(store)
        except (SQLAlchemyError, OSError) as exc:
            if outage(exc) is None:
                raise
            # Serving what is stored beats not serving: reads work, writes answer 503 until the storage recovers.
            typer.echo(f"costledger: $COSTLEDGER_ADMIN_KEY not stored: the storage cannot write ({outage(exc)}); "
                       "serving anyway", err=True)  # fmt: skip
        finally:
            store.close()
    except (ConfigError, ValueError) as exc:
        fail(str(exc), 2)
    raise_file_limit()
    try:
        uvicorn.run(
            "costledger.server.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            log_level=log_level,
            timeout_graceful_shutdown=10,
            # Header and body timeouts and a cap on connections (server/connections.py).
            http="costledger.server.connections:GuardedProtocol",
        )
    finally:
        if owned_metrics_dir:
            shutil.rmtree(owned_metrics_dir, ignore_errors=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    scope: Annotated[str, typer.Option(help="ingest (write events) or admin (everything)")] = "ingest",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    from ..keys import SCOPES, create_key

    if scope not in SCOPES:
        fail(f"--scope must be one of {', '.join(SCOPES)}, not {scope!r}", 2)
    store = open_store(db, config, create=True)
    try:
        key, stored = create_key(store, scope, name)
    except ValueError as exc:
        fail(str(exc), 2)
    finally:
        store.close()
    print(key)
    typer.echo(f"created {stored.scope} key {stored.id} ({stored.prefix}…) named {stored.name!r}; "
               "it is not shown again", err=True)  # fmt: skip


@keys_app.command("list")
def keys_list(
    db: DbOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Every key: id, name, scope, prefix, created, last used, revoked."""
    from ..keys import list_keys

    store = open_store(db, config)
    try:
        found = list_keys(store)
    finally:
        store.close()
    if as_json:
        print(json.dumps([k.as_dict() for k in found]))
        return
    rows = [{**k.as_dict(), "prefix": k.prefix + "…", "created": moment(k.as_dict()["created_at"]),
             "used": moment(k.as_dict()["last_used_at"]), "revoked": moment(k.as_dict()["revoked_at"])}
            for k in found]  # fmt: skip
    columns = [Column("id", "id", "id"), Column("name", "name"), Column("scope", "scope"),
               Column("prefix", "prefix", "id"), Column("created", "created (UTC)", drop=2),
               Column("used", "last used", drop=1), Column("revoked", "revoked")]  # fmt: skip
    show(console, rows, columns, "API keys")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="the key's id, its prefix, or the key itself")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke a key: it stops working at once, on every worker."""
    from ..keys import revoke_key

    store = open_store(db, config)
    try:
        revoked = revoke_key(store, key)
    except ValueError as exc:
        fail(str(exc), 2)
    finally:
        store.close()
    if revoked is None:
        fail(f"no active key matches {key!r}", 1)
    print(f"revoked {revoked.scope} key {revoked.id} ({revoked.prefix}…) named {revoked.name!r}")
