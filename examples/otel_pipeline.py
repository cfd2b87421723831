"""OpenTelemetry into costledger: spans your LLM instrumentation already exports, priced.

Starts `costledger serve` on a loopback port over a fresh SQLite file, makes an ingest
key with `costledger keys create`, points the real opentelemetry-sdk OTLP/HTTP
exporter at `POST /v1/traces`, emits spans carrying `gen_ai.*` usage (as
OpenLLMetry, OpenInference or the OTel GenAI instrumentations do), then reads the
session back over the HTTP API. No keys or network needed.

In your own service the pipeline is configuration only:

    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://costledger:8000/v1/traces
    OTEL_EXPORTER_OTLP_TRACES_HEADERS="Authorization=Bearer <ingest key>"

Usage: python examples/otel_pipeline.py
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

CLI = str(Path(sys.executable).with_name("costledger"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("costledger serve did not start")


def emit_spans(url: str, ingest_key: str) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {ingest_key}"})
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("example")
    for turn in range(3):
        with tracer.start_as_current_span("chat claude-haiku-4-5") as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-haiku-4-5",
                "gen_ai.usage.input_tokens": 5000 + 1000 * turn,
                "gen_ai.usage.cache_read.input_tokens": 4000 if turn else 0,
                "gen_ai.usage.output_tokens": 300,
                "gen_ai.conversation.id": "call-991",
                "gen_ai.agent.name": "support",
                "user.id": "u_17",
            })  # fmt: skip
    with tracer.start_as_current_span("embeddings") as span:
        span.set_attributes({"gen_ai.system": "openai", "gen_ai.request.model": "text-embedding-3-small",
                             "gen_ai.usage.input_tokens": 12000, "gen_ai.conversation.id": "call-991"})  # fmt: skip
    provider.shutdown()  # flushes the batch


def main() -> None:
    db = str(Path(tempfile.mkdtemp()) / "otel.db")
    admin_key = secrets.token_urlsafe(24)
    ingest_key = subprocess.run(
        [CLI, "keys", "create", "--scope", "ingest", "--name", "otel example", "--db", db],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "COSTLEDGER_ADMIN_KEY": admin_key}
    server = subprocess.Popen([CLI, "serve", "--db", db, "--port", str(port), "--log-level", "warning"], env=env)
    try:
        wait_until_up(url, server)
        emit_spans(url, ingest_key)
        session = httpx.get(f"{url}/v1/sessions/call-991", headers={"Authorization": f"Bearer {admin_key}"}).json()
        s = session["session"]
        print(f"session call-991: {s['events']} events from spans, {s['unpriced']} unpriced, total ${s['cost_usd']}")
        for service, cost in sorted(s["by_service"].items()):
            print(f"  service {service}: ${cost}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
