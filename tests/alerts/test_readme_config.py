"""The README's alert, channel and budget examples load as written."""

from __future__ import annotations

import re

from conftest import ROOT
from costledger.alerts import Alerts
from costledger.budgets import budgets_from_config
from costledger.config import parse_config
from costledger.store import Store


def test_the_readme_alert_and_budget_config_is_valid(tmp_path: object, monkeypatch: object) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Alerts, budgets and the event bus", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    config = parse_config("\n".join(blocks))
    store = Store(str(tmp_path) + "/readme.db")  # type: ignore[operator]
    try:
        alerts = Alerts(store, config)
        kinds = sorted(r.kind for r in alerts.rules if r.source == "config")
        assert kinds == ["daily_total", "forecast", "monthly_total", "plan_margin", "spike"]
        assert set(alerts.channels) == {"log", "slack", "ops", "email", "nats"}
        assert [b.name for b in budgets_from_config(config)] == ["each user, $1.00 per day"]
    finally:
        store.close()
