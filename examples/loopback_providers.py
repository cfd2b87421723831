"""A loopback HTTP server that speaks Anthropic's and OpenAI's wire formats.

It lets the real SDK clients run without keys or network: point them at
`server.url` (`anthropic.Anthropic(base_url=server.url, api_key="test")`,
`openai.OpenAI(base_url=server.url + "/v1", api_key="test")`). Each reply
carries the usage set in `server.anthropic_usage` / `server.openai_usage`
(`server.openai_details` adds the wire format's token details, audio and
reasoning parts; `server.openai_service_tier` the tier the reply reports).
`server.running_usage` makes a chat stream carry cumulative usage on every chunk,
as some OpenAI-compatible servers do; `server.gzip` compresses JSON replies.
`server.hold_after = n` sends a stream's first n events, then waits for
`server.release` before the rest, so a client that stops reading has read
exactly those n: a stream cut short, whatever the timing.
Chat, Responses, embeddings, audio transcriptions and speech (audio, or
server-sent events with `stream_format="sse"`) are served.
Used by the examples and by costledger's own tests.
"""

from __future__ import annotations

import gzip
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackProviders:
    def __init__(self) -> None:
        self.anthropic_usage: dict[str, Any] = {"input_tokens": 1200, "output_tokens": 80}
        self.openai_usage: dict[str, Any] = {"input_tokens": 1500, "output_tokens": 90, "cached_tokens": 0}
        self.openai_details: dict[str, Any] = {}
        self.openai_service_tier: str | None = None
        self.openai_web_searches = 0
        self.transcription_usage: dict[str, Any] = {"type": "duration", "seconds": 42}
        self.speech_usage = {"input_tokens": 40, "output_tokens": 1500}
        self.running_usage = False
        self.gzip = False
        self.hold_after: int | None = None
        self.release = threading.Event()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_loop{next(self._ids):04d}"

    def __enter__(self) -> LoopbackProviders:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- Anthropic ---------------------------------------------------------------------------------

    def anthropic(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, Any]]]]:
        usage = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, **self.anthropic_usage}
        message = {
            "id": self.next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "Noted."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return message, []
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        final = {k: v for k, v in usage.items() if k in ("output_tokens", "server_tool_use")}
        return None, [
            ("message_start", {"type": "message_start", "message": start}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "Noted."}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": final}),
            ("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip

    # -- OpenAI ------------------------------------------------------------------------------------

    def _chat_usage(self, output_tokens: int | None = None) -> dict[str, Any]:
        u = self.openai_usage
        output = u["output_tokens"] if output_tokens is None else output_tokens
        usage = {
            "prompt_tokens": u["input_tokens"],
            "completion_tokens": output,
            "total_tokens": u["input_tokens"] + output,
            "prompt_tokens_details": {"cached_tokens": u.get("cached_tokens", 0)},
        }
        for name, details in self.openai_details.items():
            usage[name] = {**usage.get(name, {}), **details}
        return usage

    def chat(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, Any]]]]:
        base: dict[str, Any] = {"id": self.next_id("chatcmpl"), "created": 1_790_000_000, "model": body["model"]}
        if self.openai_service_tier:
            base["service_tier"] = self.openai_service_tier
        if not body.get("stream"):
            choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Noted."}}
            return {**base, "object": "chat.completion", "choices": [choice], "usage": self._chat_usage()}, []
        chunk = {**base, "object": "chat.completion.chunk"}
        words = ["Noted", ".", ""]
        events = []
        for n, word in enumerate(words, start=1):
            delta: dict[str, Any] = {"index": 0, "delta": {"content": word} if word else {}}
            if not word:
                delta["finish_reason"] = "stop"
            event = {**chunk, "choices": [delta]}
            if self.running_usage:  # cumulative so far: the last chunk holds the whole count
                event["usage"] = self._chat_usage(self.openai_usage["output_tokens"] * n // len(words))
            events.append(("", event))
        if (body.get("stream_options") or {}).get("include_usage") and not self.running_usage:
            events.append(("", {**chunk, "choices": [], "usage": self._chat_usage()}))
        return None, events

    def embeddings(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, Any]]]]:
        usage = {"prompt_tokens": self.openai_usage["input_tokens"], "total_tokens": self.openai_usage["input_tokens"]}
        data = [{"object": "embedding", "index": 0, "embedding": [0.0, 0.1]}]
        return {"object": "list", "model": body["model"], "data": data, "usage": usage}, []

    def transcription(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, Any]]]]:
        return {"text": "Noted.", "usage": self.transcription_usage}, []

    def speech(self, body: dict[str, Any]) -> tuple[dict[str, Any] | bytes | None, list[tuple[str, dict[str, Any]]]]:
        if body.get("stream_format") != "sse":
            return b"ID3fake-mp3-audio", []
        usage = {**self.speech_usage, "total_tokens": sum(self.speech_usage.values())}
        return None, [
            ("", {"type": "speech.audio.delta", "audio": "AAAA"}),
            ("", {"type": "speech.audio.done", "usage": usage}),
        ]

    def responses(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, Any]]]]:
        u = self.openai_usage
        output: list[dict[str, Any]] = [
            {"type": "web_search_call", "id": self.next_id("ws"), "status": "completed",
             "action": {"type": "search", "query": "q"}}
            for _ in range(self.openai_web_searches)
        ]  # fmt: skip
        output.append({"type": "message", "id": self.next_id("msg"), "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": "Noted.", "annotations": []}]})  # fmt: skip
        response = {
            "id": self.next_id("resp"),
            "object": "response",
            "created_at": 1_790_000_000,
            "model": body["model"],
            "status": "completed",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": u["input_tokens"],
                "output_tokens": u["output_tokens"],
                "total_tokens": u["input_tokens"] + u["output_tokens"],
                "input_tokens_details": {"cached_tokens": u.get("cached_tokens", 0), "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": u.get("reasoning_tokens", 0)},
            },
        }
        if self.openai_service_tier:
            response["service_tier"] = self.openai_service_tier
        if not body.get("stream"):
            return response, []
        pending = {**response, "status": "in_progress", "output": [], "usage": None}
        return None, [
            ("response.created", {"type": "response.created", "sequence_number": 0, "response": pending}),
            ("response.completed", {"type": "response.completed", "sequence_number": 1, "response": response}),
        ]


def _handler(server: LoopbackProviders) -> type[BaseHTTPRequestHandler]:
    routes = {
        "/v1/messages": server.anthropic,
        "/v1/messages/count_tokens": lambda body: ({"input_tokens": 10}, []),
        "/v1/chat/completions": server.chat,
        "/v1/responses": server.responses,
        "/v1/embeddings": server.embeddings,
        "/v1/audio/transcriptions": server.transcription,
        "/v1/audio/speech": server.speech,
    }

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            body = json.loads(raw or b"{}") if "json" in self.headers.get("content-type", "json") else {"raw": raw}
            server.requests.append((self.path, body))
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self.send_error(404)
                return
            reply, events = route(body)
            if reply is not None:
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "audio/mpeg" if isinstance(reply, bytes) else "application/json")
                self.send_header("x-request-id", server.next_id("req"))
                if server.gzip and not isinstance(reply, bytes):
                    data = gzip.compress(data)
                    self.send_header("content-encoding", "gzip")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("x-request-id", server.next_id("req"))
            self.end_headers()
            self.close_connection = True
            try:
                for n, (name, data) in enumerate(events):
                    if n == server.hold_after:
                        server.release.wait(30)
                    prefix = f"event: {name}\n" if name else ""
                    self.wfile.write(f"{prefix}data: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                if self.path.startswith("/v1/chat"):
                    self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: a stream cut short

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


class LoopbackRealtime:
    """A loopback WebSocket server speaking the OpenAI Realtime API's server events.

    `openai.OpenAI(api_key="test", websocket_base_url=server.url)` connects to it.
    `response.create` is answered with `response.done` carrying `server.usage`;
    `input_audio_buffer.commit` with a transcription carrying `server.transcription_usage`.
    """

    def __init__(self, model: str = "gpt-realtime", transcription_model: str = "gpt-4o-transcribe") -> None:
        from websockets.sync.server import serve

        self.model = model
        self.transcription_model = transcription_model
        self.usage: dict[str, Any] = {"input_tokens": 1000, "output_tokens": 200}
        self.transcription_usage: dict[str, Any] = {"type": "duration", "seconds": 10}
        self.received: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/v1"

    def __enter__(self) -> LoopbackRealtime:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()

    def _send(self, ws: Any, event: dict[str, Any]) -> None:
        ws.send(json.dumps({"event_id": f"event_{next(self._ids)}", **event}))

    def _session(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        session = {"type": "realtime", "id": "sess_1", "object": "realtime.session", "model": self.model,
                   "audio": {"input": {"transcription": {"model": self.transcription_model}}}}  # fmt: skip
        self._send(ws, {"type": "session.created", "session": session})
        try:
            for message in ws:
                event = json.loads(message)
                self.received.append(event)
                if event.get("type") == "response.create":
                    response = {"id": f"resp_rt{next(self._ids)}", "object": "realtime.response",
                                "status": "completed", "output": [], "usage": self.usage}  # fmt: skip
                    self._send(ws, {"type": "response.created", "response": {**response, "status": "in_progress",
                                                                             "usage": None}})  # fmt: skip
                    self._send(ws, {"type": "response.done", "response": response})
                elif event.get("type") == "input_audio_buffer.commit":
                    item = f"item_{next(self._ids)}"
                    self._send(ws, {"type": "input_audio_buffer.committed", "item_id": item, "previous_item_id": None})
                    self._send(ws, {"type": "conversation.item.input_audio_transcription.completed", "item_id": item,
                                    "content_index": 0, "transcript": "Noted.",
                                    "usage": self.transcription_usage})  # fmt: skip
        except ConnectionClosed:
            pass
