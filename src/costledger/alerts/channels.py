"""Where alerts go: the log, a webhook, Slack, email, NATS.

A channel's `send` either returns (delivered) or raises (the queue retries it
later); it never retries itself, so one slow receiver cannot hold a worker for
longer than its timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from ..config import Config
from ..errors import ConfigError
from .kinds import dollars
from .queue import Alert

log = logging.getLogger("costledger.alerts")

SIGNATURE_HEADER = "X-Costledger-Signature"
DASHBOARD_ENV = "COSTLEDGER_DASHBOARD_URL"
# [channels.bus] configures the event bus (bus.py), not an alert channel.
BUS_CHANNEL = "bus"


class Channel(Protocol):
    def send(self, alert: Alert) -> None: ...


def body_of(alert: Alert) -> bytes:
    return json.dumps({"type": "costledger.alert", "alert": alert.as_dict()}, sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: receivers recompute it over the raw body with their copy of the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LogChannel:
    logger: str = "costledger.alerts"

    def send(self, alert: Alert) -> None:
        logging.getLogger(self.logger).warning("alert %s [%s]: %s", alert.id, alert.rule, alert.message)


@dataclass(frozen=True)
class WebhookChannel:
    url: str
    secret: str | None = None
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict)

    def send(self, alert: Alert) -> None:
        import httpx

        body = body_of(alert)
        headers = {"Content-Type": "application/json", "User-Agent": "costledger", **self.headers}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        if response.status_code >= 300:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")


def slack_text(alert: Alert, dashboard_url: str | None) -> str:
    lines = [f":rotating_light: *costledger alert* — {alert.message}"]
    figures = alert.as_dict()
    parts = []
    if figures["value_usd"] is not None:
        from decimal import Decimal

        parts.append(f"value {dollars(Decimal(figures['value_usd']))}")
        if figures["threshold_usd"] is not None:
            parts.append(f"threshold {dollars(Decimal(figures['threshold_usd']))}")
    parts.append(f"rule `{alert.rule}`")
    parts.append(f"period {alert.period}" if alert.period != "session" else alert.subject)
    lines.append(" · ".join(parts))
    if dashboard_url:
        lines.append(f"<{dashboard_url.rstrip('/')}/|Open the dashboard>")
    return "\n".join(lines)


@dataclass(frozen=True)
class SlackChannel:
    webhook_url: str
    dashboard_url: str | None = None
    timeout: float = 10.0

    def send(self, alert: Alert) -> None:
        import httpx

        text = slack_text(alert, self.dashboard_url or os.environ.get(DASHBOARD_ENV))
        payload = {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
        response = httpx.post(self.webhook_url, json=payload, timeout=self.timeout)
        if response.status_code >= 300:
            raise RuntimeError(f"slack answered {response.status_code}: {response.text[:200]}")


@dataclass(frozen=True)
class EmailChannel:
    host: str
    to: tuple[str, ...]
    sender: str = "costledger@localhost"
    port: int = 25
    starttls: bool = False
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    dashboard_url: str | None = None

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = f"[costledger] {alert.message[:150]}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        figures = json.dumps(alert.as_dict(), indent=2, sort_keys=True)
        link = self.dashboard_url or os.environ.get(DASHBOARD_ENV)
        message.set_content(f"{alert.message}\n\n{('Dashboard: ' + link + chr(10) + chr(10)) if link else ''}"
                            f"Figures:\n{figures}\n")  # fmt: skip
        context = ssl.create_default_context()
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            if self.tls
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


@dataclass(frozen=True)
class NatsChannel:
    url: str = "nats://127.0.0.1:4222"
    subject: str = "costledger.alert"
    timeout: float = 10.0

    def send(self, alert: Alert) -> None:
        from ..bus import publish_sync

        publish_sync(self.url, [(self.subject, alert.message_id, body_of(alert))], timeout=self.timeout)


_TYPES = ("log", "webhook", "slack", "email", "nats")


def _channel(name: str, raw: Mapping[str, Any]) -> Channel:
    kind = raw.get("type", name if name in _TYPES else None)
    if kind not in _TYPES:
        raise ValueError(f"type: expected one of {', '.join(_TYPES)} (or name the table after one), got {kind!r}")

    def need(key: str) -> Any:
        value = raw.get(key)
        if not value:
            raise ValueError(f"{key}: is required for a {kind} channel")
        return value

    def secret(key: str) -> str | None:
        # A secret can live in the environment instead of the file: password_env = "SMTP_PASSWORD".
        if raw.get(f"{key}_env"):
            return os.environ.get(str(raw[f"{key}_env"]))
        value = raw.get(key)
        return str(value) if value is not None else None

    timeout = float(raw.get("timeout_seconds", 10))
    if kind == "log":
        return LogChannel(str(raw.get("logger", "costledger.alerts")))
    if kind == "webhook":
        headers = raw.get("headers", {})
        if not isinstance(headers, dict):
            raise ValueError("headers: expected a table of header = value")
        return WebhookChannel(str(need("url")), secret("secret"), timeout, {str(k): str(v) for k, v in headers.items()})
    if kind == "slack":
        return SlackChannel(str(need("webhook_url")), raw.get("dashboard_url"), timeout)
    if kind == "email":
        to = need("to")
        return EmailChannel(
            host=str(need("host")), to=tuple([to] if isinstance(to, str) else to),
            sender=str(raw.get("from", "costledger@localhost")), port=int(raw.get("port", 25)),
            starttls=bool(raw.get("starttls", False)), tls=bool(raw.get("tls", False)),
            username=raw.get("username"), password=secret("password"), timeout=timeout,
            dashboard_url=raw.get("dashboard_url"),
        )  # fmt: skip
    return NatsChannel(
        str(raw.get("url", "nats://127.0.0.1:4222")), str(raw.get("subject", "costledger.alert")), timeout
    )


def channels_from_config(config: Config) -> dict[str, Channel]:
    """Every [channels.NAME] table (but `bus`) as a channel; `log` always exists."""
    out: dict[str, Channel] = {"log": LogChannel()}
    for name, raw in config.channels.items():
        if name == BUS_CHANNEL:
            continue
        try:
            out[name] = _channel(name, raw)
        except (ValueError, TypeError) as exc:
            where = str(config.path) if config.path else "costledger.toml"
            raise ConfigError(f"{where}: channels.{name}.{exc}") from None
    return out
