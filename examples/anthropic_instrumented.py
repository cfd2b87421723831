"""An instrumented Anthropic client: every call and every streamed message is priced and recorded.

Runs without a key or network: the real `anthropic` SDK talks to a loopback server
that speaks Anthropic's wire format (examples/loopback_providers.py) and reports
prompt-cache reads and a web search, as the API does.

Usage: python examples/anthropic_instrumented.py [LEDGER.db]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anthropic
from loopback_providers import LoopbackProviders

import costledger
from costledger.integrations.anthropic import instrument

MODEL = "claude-haiku-4-5"


def main(path: str) -> None:
    with LoopbackProviders() as server, costledger.Ledger(path) as ledger:
        server.anthropic_usage = {"input_tokens": 400, "cache_read_input_tokens": 7600, "output_tokens": 350,
                                  "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0}}  # fmt: skip
        with ledger.session("research-42", user_id="u_17", tier="creator") as session:
            client = instrument(anthropic.Anthropic(base_url=server.url, api_key="not-needed"), session,
                                agent="scholar")  # fmt: skip
            ask = {"model": MODEL, "max_tokens": 512, "messages": [{"role": "user", "content": "Price my launch."}]}
            client.messages.create(**ask)
            with client.messages.stream(**ask) as stream:
                for _ in stream.text_stream:
                    pass
            for _ in client.messages.create(**ask, stream=True):
                pass
        summary = session.summary
        assert summary is not None
        one = costledger.price("anthropic", MODEL, input_tokens=8000, cache_read_tokens=7600, output_tokens=350,
                               web_searches=1)  # fmt: skip
        print(f"recorded {summary.events} calls for session research-42: ${summary.cost_usd}")
        print(f"one call: ${one.total} = {', '.join(f'{k} ${v}' for k, v in one.breakdown.items())}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(tempfile.mkdtemp()) / "anthropic.db"))
