"""Alerts: rules, evaluation on ingest, a persisted delivery queue, channels.

`Ledger` builds one `Alerts` and registers its hooks on its store; the delivery
worker runs where you start it (`ledger.alerts.start()`, `costledger alerts
deliver`, or the HTTP server), never inside ingest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, select

from ..config import Config
from ..store.alerts_schema import alert_rules
from .channels import Channel, channels_from_config
from .evaluate import Evaluator, stored_rules
from .kinds import KINDS, Firing, Kind, register
from .plan_margin import CHECK_SECONDS, plan_margin_firings
from .queue import Alert, ack, history, utcnow
from .rules import Rule, RuleSet, parse_rule
from .worker import Deliveries, Loop

if TYPE_CHECKING:
    from ..budgets import Budgets
    from ..store import Store, Written

Hook = Callable[[Connection, "Written"], None]


class Alerts:
    """The alerting side of one store: rules, the evaluator hooks, the delivery worker."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        budgets: Budgets | None = None,
        channels: Mapping[str, Channel] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        from ..bus import bus_url

        self.store = store
        self.config = config
        self.budgets = budgets
        self.channels = dict(channels) if channels is not None else channels_from_config(config)
        self.rules = RuleSet.from_config(config, channels=list(self.channels)).rules
        self.bus_url = bus_url(config)
        self.evaluator = Evaluator(self.rules, bus=self.bus_url is not None, clock=clock)
        self.deliveries = Deliveries(store, self.channels)
        self._loops: list[Loop] = []

    @property
    def hooks(self) -> list[Hook]:
        """In order: period totals first (rules and budgets read them), then rules, settlement, bus."""
        out: list[Hook] = [self.evaluator.count, self.evaluator]
        if self.budgets is not None:
            out.append(self.budgets.settle)
        if self.bus_url is not None:
            out.append(self._to_bus)
        return out

    def _to_bus(self, connection: Connection, written: Written) -> None:
        from ..bus import enqueue_events

        enqueue_events(connection, written.inserted, utcnow())

    # -- rules ----------------------------------------------------------------------------------

    def all_rules(self) -> list[Rule]:
        with self.store.engine.connect() as connection:
            return [*self.rules, *stored_rules(connection)]

    def add_rule(self, spec: Mapping[str, Any]) -> Rule:
        """Store a rule (the keys of an [[alerts]] table); raises ValueError naming a bad key."""
        rule = parse_rule(spec, source="cli")
        unknown = [c for c in rule.channels if c not in self.channels]
        if unknown:
            raise ValueError(f"channels: no [channels.{unknown[0]}] table configures {unknown[0]!r}")
        stored = {k: v for k, v in rule.spec().items()}
        if spec.get("name"):
            stored["name"] = spec["name"]
        row_id = self.store.transaction(
            lambda c: c.execute(
                alert_rules.insert().values(spec=json.dumps(stored), created_at=utcnow()).returning(alert_rules.c.id)
            ).scalar_one()
        )
        return parse_rule(stored, source="cli", rule_id=int(row_id))

    def remove_rule(self, rule_id: int) -> bool:
        """Remove a CLI-added rule; rules from config and the environment are changed there."""
        return bool(
            self.store.transaction(lambda c: c.execute(delete(alert_rules).where(alert_rules.c.id == rule_id)).rowcount)
        )

    # -- fired alerts ---------------------------------------------------------------------------

    def history(self, **filters: Any) -> list[Alert]:
        with self.store.engine.connect() as connection:
            return history(connection, **filters)

    def ack(self, ids: Iterable[int], by: str | None = None) -> int:
        wanted = list(ids)
        return int(self.store.transaction(lambda c: ack(c, wanted, by, utcnow())))

    def pending(self) -> int:
        from ..store.alerts_schema import alert_deliveries

        with self.store.engine.connect() as connection:
            rows = connection.execute(select(alert_deliveries.c.id).where(alert_deliveries.c.status == "pending"))
            return len(rows.all())

    # -- delivery -------------------------------------------------------------------------------

    def deliver_pending(self) -> int:
        """Attempt every due delivery once, here and now."""
        return self.deliveries.run_once()

    def publish_pending(self) -> int:
        """Publish the bus outbox once (0 when the bus is off)."""
        from ..bus import publish_pending

        return publish_pending(self.store, self.bus_url) if self.bus_url else 0

    def check_plans(self, now: dt.datetime | None = None) -> int:
        """Evaluate the plan-margin rules against this month's at-limit table; returns the alerts fired."""
        moment = now or utcnow()
        firings = plan_margin_firings(self.all_rules(), self.store, self.config, moment.date())
        if not firings:
            return 0
        ids = self.store.transaction(lambda c: [self.evaluator.fire(c, f, moment) for f in firings])
        fired = sum(1 for alert_id in ids if alert_id is not None)
        if fired:
            self.wake()
        return fired

    def start(self, interval: float = 1.0) -> None:
        """Deliver alerts (and publish the bus outbox) from background threads until `stop()`."""
        if self._loops:
            return
        self._loops.append(Loop("costledger-alert-delivery", self.deliver_pending, interval))
        if any(rule.kind == "plan_margin" for rule in self.all_rules()):
            # Returns 0 on purpose (a fired alert wakes delivery itself): the loop then sleeps its interval.
            self._loops.append(Loop("costledger-plan-margins", lambda: self.check_plans() and 0, CHECK_SECONDS))
        if self.bus_url:
            self._loops.append(Loop("costledger-bus", self.publish_pending, interval))
        for loop in self._loops:
            loop.start()

    def wake(self) -> None:
        for loop in self._loops:
            loop.wake()

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()
        self._loops.clear()


__all__ = ["KINDS", "Alert", "Alerts", "Firing", "Kind", "Rule", "register"]
