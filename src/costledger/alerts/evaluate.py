"""Evaluation on ingest: a Store.on_write hook, inside the write transaction.

It counts the new events into the period totals, asks every rule about the totals
this batch touched, and stores what fired (with its deliveries, and its bus message
when the bus is on) in the same transaction: an alert exists if and only if the
events that fired it were committed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from ..pricing.entries import EntryError
from ..store import Written
from .kinds import KINDS, Context, Firing
from .queue import insert_alert, utcnow
from .rules import Rule, parse_rule
from .totals import Key, raw

log = logging.getLogger("costledger.alerts")


_PARSED: dict[tuple[int, str], Rule | None] = {}


def stored_rules(connection: Connection) -> list[Rule]:
    """Rules added with `costledger alerts add` (read on every write: another process may add one)."""
    out = []
    for rule_id, spec in raw(connection, "SELECT id, spec FROM alert_rules ORDER BY id"):
        key = (int(rule_id), spec)
        if key not in _PARSED:
            try:
                _PARSED[key] = parse_rule(json.loads(spec), source="cli", rule_id=int(rule_id))
            except (EntryError, ValueError) as exc:
                log.error("alert rule %s cannot be read: %s", rule_id, exc)
                _PARSED[key] = None
        rule = _PARSED[key]
        if rule is not None:
            out.append(rule)
    return out


class Evaluator:
    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        bus: bool = False,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.rules = tuple(rules)
        self.bus = bus
        self.clock = clock
        self._fired: dict[tuple[str, str, str], None] = {}
        self._counted: tuple[Written, set[Key]] | None = None

    def count(self, connection: Connection, written: Written) -> None:
        """Hook 1: the period totals this batch touched (Store.write counted them, budgets read them too)."""
        if written.inserted:
            self._counted = (written, written.period_keys)

    def __call__(self, connection: Connection, written: Written) -> None:
        """Hook 2: evaluate the rules against what this batch touched."""
        if not written.inserted:
            return
        now = self.clock()
        counted = self._counted
        self._counted = None
        if counted is not None and counted[0] is written:
            context = Context(connection, written.inserted, now, keys=counted[1], fired=self._fired)
        else:
            context = Context(connection, written.inserted, now, fired=self._fired)
        rules = {rule.name: rule for rule in (*self.rules, *stored_rules(connection))}
        wanted = []
        for rule in rules.values():
            wants = KINDS[rule.kind].wants
            if wants is not None:
                wanted.extend(wants(rule, context))
        context.prefetch({rule.per or "" for rule in rules.values()}, wanted)
        for rule in rules.values():
            for firing in KINDS[rule.kind].check(rule, context):
                self.fire(connection, firing, now)

    def fire(self, connection: Connection, firing: Firing, now: dt.datetime) -> int | None:
        key = (firing.rule.name, firing.subject, firing.period)
        if key in self._fired:
            return None
        alert_id = insert_alert(
            connection, rule=firing.rule.name, kind=firing.rule.kind, subject=firing.subject, period=firing.period,
            value=firing.value, threshold=firing.threshold, message=firing.message, details=firing.details,
            channels=firing.rule.channels, now=now,
        )  # fmt: skip
        if alert_id is None:
            # Stored already (the unique key said so): a committed fact, safe to remember, so a busy
            # day over its threshold does not try again on every write. Bounded: oldest forgotten first.
            self._fired[key] = None
            if len(self._fired) > 10_000:
                del self._fired[next(iter(self._fired))]
        if alert_id is not None and self.bus:
            from ..bus import enqueue_alert
            from .queue import load_alert

            alert = load_alert(connection, alert_id)
            assert alert is not None
            enqueue_alert(connection, alert.message_id, {"type": "costledger.alert", "alert": alert.as_dict()}, now)
        return alert_id
