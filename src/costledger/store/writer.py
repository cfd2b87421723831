"""Writing a batch: events, rollups and sessions in one transaction.

Idempotency rests on the unique event_id and INSERT … ON CONFLICT DO NOTHING, so
two processes racing on the same ids each see exactly which rows they inserted;
only those are counted into the rollups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

from .schema import DIMENSIONS, events, rollup_daily, session_costs, sessions


@dataclass
class Written:
    accepted: int = 0
    duplicates: int = 0
    unpriced: int = 0
    cost_nanos: int = 0
    inserted: tuple[dict[str, Any], ...] = ()


def _insert(connection: Connection, table: Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def write_events(connection: Connection, rows: Sequence[dict[str, Any]]) -> Written:
    """Insert `rows` (event column dicts) and count the new ones into rollups and sessions."""
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(row["event_id"], row)
    # A fixed order keeps concurrent PostgreSQL transactions from deadlocking on each other's keys.
    ordered = sorted(unique.values(), key=lambda r: r["event_id"])
    if not ordered:
        return Written(duplicates=len(rows))
    statement = _insert(connection, events).on_conflict_do_nothing(index_elements=["event_id"])
    result = connection.execute(statement.returning(events.c.event_id), ordered)
    inserted_ids = {r[0] for r in result}
    new = tuple(r for r in ordered if r["event_id"] in inserted_ids)
    written = Written(accepted=len(new), duplicates=len(rows) - len(new), inserted=new)
    if new:
        written.unpriced = sum(1 for r in new if r["cost"] is None)
        written.cost_nanos = sum(r["cost"] or 0 for r in new)
        add_to_rollups(connection, new)
    return written


def add_to_rollups(connection: Connection, rows: Sequence[dict[str, Any]], sign: int = 1) -> None:
    """Count `rows` into the daily rollups, sessions and session costs (sign=-1 takes them out)."""
    daily: dict[tuple[Any, ...], list[int]] = {}
    per_session: dict[str, dict[str, Any]] = {}
    per_service: dict[tuple[str, str, str], list[int]] = {}
    for row in rows:
        cost = row["cost"]
        unpriced = 1 if cost is None else 0
        nanos = cost or 0
        key = (row["day"], *(row[d] or "" for d in DIMENSIONS))
        bucket = daily.get(key)
        if bucket is None:
            daily[key] = [sign, sign * unpriced, sign * nanos]
        else:
            bucket[0] += sign
            bucket[1] += sign * unpriced
            bucket[2] += sign * nanos
        session_id = row["session_id"]
        if session_id is None:
            continue
        s = per_session.get(session_id)
        if s is None:
            per_session[session_id] = s = {
                "session_id": session_id, "user_id": row["user_id"], "tier": row["tier"], "mode": row["mode"],
                "started_at": row["ts"], "ended_at": row["ts"], "events": 0, "unpriced": 0, "cost": 0,
            }  # fmt: skip
        else:
            s["started_at"] = min(s["started_at"], row["ts"])
            s["ended_at"] = max(s["ended_at"], row["ts"])
            for dim in ("user_id", "tier", "mode"):
                s[dim] = s[dim] or row[dim]
        s["events"] += sign
        s["unpriced"] += sign * unpriced
        s["cost"] += sign * nanos
        skey = (session_id, row["service"], row["agent"] or "")
        sb = per_service.get(skey)
        if sb is None:
            per_service[skey] = [sign, sign * unpriced, sign * nanos]
        else:
            sb[0] += sign
            sb[1] += sign * unpriced
            sb[2] += sign * nanos

    columns = ("day", *DIMENSIONS)
    _upsert_counts(
        connection,
        rollup_daily,
        columns,
        [
            dict(zip(columns, key, strict=True), events=v[0], unpriced=v[1], cost=v[2])
            for key, v in sorted(daily.items())
        ],
    )
    if per_session:
        _upsert_sessions(connection, [per_session[k] for k in sorted(per_session)])
        part_columns = ("session_id", "service", "agent")
        _upsert_counts(
            connection,
            session_costs,
            part_columns,
            [
                dict(zip(part_columns, key, strict=True), events=v[0], unpriced=v[1], cost=v[2])
                for key, v in sorted(per_service.items())
            ],
        )


def _upsert_counts(connection: Connection, table: Table, keys: Sequence[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = _insert(connection, table)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={
            "events": table.c.events + excluded.events,
            "unpriced": table.c.unpriced + excluded.unpriced,
            "cost": table.c.cost + excluded.cost,
        },
    )
    connection.execute(statement, rows)


def _upsert_sessions(connection: Connection, rows: list[dict[str, Any]]) -> None:
    statement = _insert(connection, sessions)
    excluded = statement.excluded
    # Two-argument min/max are scalar in SQLite; PostgreSQL spells them least/greatest.
    least, greatest = (func.least, func.greatest) if connection.dialect.name == "postgresql" else (func.min, func.max)
    statement = statement.on_conflict_do_update(
        index_elements=["session_id"],
        set_={
            "user_id": func.coalesce(sessions.c.user_id, excluded.user_id),
            "tier": func.coalesce(sessions.c.tier, excluded.tier),
            "mode": func.coalesce(sessions.c.mode, excluded.mode),
            "started_at": least(sessions.c.started_at, excluded.started_at),
            "ended_at": greatest(sessions.c.ended_at, excluded.ended_at),
            "events": sessions.c.events + excluded.events,
            "unpriced": sessions.c.unpriced + excluded.unpriced,
            "cost": sessions.c.cost + excluded.cost,
        },
    )
    connection.execute(statement, rows)


def touch_session(connection: Connection, session_id: str, at: datetime, fields: dict[str, Any]) -> None:
    """Open or extend a session without an event (a session's start and end are times too)."""
    _upsert_sessions(
        connection,
        [
            {
                "session_id": session_id,
                "user_id": fields.get("user_id"),
                "tier": fields.get("tier"),
                "mode": fields.get("mode"),
                "started_at": at,
                "ended_at": at,
                "events": 0,
                "unpriced": 0,
                "cost": 0,
            }
        ],
    )
