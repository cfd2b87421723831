"""Instrumenting an SDK at its HTTP client, so that every call path records once.

The Anthropic and OpenAI SDKs send every call (`create`, `parse`, `stream()`,
`with_raw_response`, `with_streaming_response`, `beta.…`, a client derived by
`with_options(...)`) through one `httpx2` client, which derived clients share.
A response hook on it sees each successful response before the SDK reads it and
puts a tee in front of its body: the SDK reads the bytes as before while a
`Call` of the adapter reads the same bytes, decoded, as JSON or as server-sent
events. The call is recorded when its body ends, when it is closed, or, for a
stream the caller dropped half-read, when it is garbage-collected: what it
consumed was billed. A client given a legacy `httpx` client (`http_client=`) is
instrumented the same way.
"""

from __future__ import annotations

import json
import weakref
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

import httpx
import httpx2

from ._recording import log


class Call(Protocol):
    """What an adapter makes of one response: fed its JSON body or its events, then done (once or more)."""

    def json(self, body: Any) -> None: ...

    def event(self, name: str, data: Any) -> None: ...

    def done(self) -> None: ...


# The request and its response's status and headers → the Call that reads the body, or None to ignore it.
Reader = Callable[[Any, Any], "Call | None"]
# Sees (and may rewrite) each request before it is sent.
Prepare = Callable[[Any], None]
HttpClient = httpx2.Client | httpx2.AsyncClient | httpx.Client | httpx.AsyncClient
_MARK = "_costledger_reader"


def instrument_http(http_client: HttpClient, reader: Reader, prepare: Prepare | None = None) -> bool:
    """Add `reader`'s (and `prepare`'s) hooks to `http_client`; False when costledger's are there already.

    An HTTP client is instrumented once: a second `instrument()` of a client sharing it changes nothing.
    """
    hooks = http_client.event_hooks
    if any(getattr(hook, _MARK, False) for hook in hooks.get("response", [])):
        return False
    on_response: Callable[[Any], Any]
    on_request: Callable[[Any], Any]
    if isinstance(http_client, httpx2.AsyncClient | httpx.AsyncClient):

        async def on_response(response: Any) -> None:
            _tee(response, reader, asynchronous=True)

        async def on_request(request: Any) -> None:
            _prepare(request, prepare)

    else:

        def on_response(response: Any) -> None:
            _tee(response, reader, asynchronous=False)

        def on_request(request: Any) -> None:
            _prepare(request, prepare)

    setattr(on_response, _MARK, True)
    hooks.setdefault("response", []).append(on_response)
    if prepare is not None:
        hooks.setdefault("request", []).append(on_request)
    http_client.event_hooks = hooks
    return True


def _prepare(request: Any, prepare: Prepare | None) -> None:
    if prepare is None:
        return
    try:
        prepare(request)
    except Exception:
        log.exception("costledger could not prepare a request")


def _tee(response: Any, reader: Reader, *, asynchronous: bool) -> None:
    if not response.is_success:
        return  # an error response is not billed; the SDK retries or raises
    try:
        call = reader(response.request, response)
        if call is None:
            return
        body = _Body(call, response.headers)
    except Exception:
        log.exception("costledger could not observe a response")
        return
    stream = _AsyncTee(response.stream, body) if asynchronous else _SyncTee(response.stream, body)
    # A stream dropped without close() still records what it consumed, when it is collected
    # (not at interpreter exit, when the ledger it records into may be gone).
    weakref.finalize(stream, body.done).atexit = False
    response.stream = stream


class _Body:
    """The decoded body of one response, handed to its Call as JSON or as server-sent events."""

    def __init__(self, call: Call, headers: Any) -> None:
        self.call = call
        self.decode = _decoder(headers.get("content-encoding", ""))
        content_type = headers.get("content-type", "")
        self.sse = content_type.startswith("text/event-stream")
        self.json = "json" in content_type
        self.buffer = b""
        self.lines = b""
        self.event_name = ""
        self.data: list[bytes] = []
        self.finished = False

    def feed(self, raw: bytes) -> None:
        if self.finished or not (self.sse or self.json):
            return
        try:
            chunk = self.decode(raw)
            if self.json:
                self.buffer += chunk
            else:
                self._lines(chunk)
        except Exception:
            log.exception("costledger could not read a response body")
            self.sse = self.json = False

    def _lines(self, chunk: bytes) -> None:
        self.lines += chunk
        *complete, self.lines = self.lines.replace(b"\r\n", b"\n").split(b"\n")
        for line in complete:
            if not line:
                self._dispatch()
            elif line.startswith(b"data:"):
                self.data.append(line[5:].removeprefix(b" "))
            elif line.startswith(b"event:"):
                self.event_name = line[6:].strip().decode()

    def _dispatch(self) -> None:
        data, name = b"\n".join(self.data), self.event_name
        self.data, self.event_name = [], ""
        if not data or data == b"[DONE]":
            return
        try:
            parsed = json.loads(data)
        except ValueError:
            return
        self.call.event(name, parsed)

    def done(self) -> None:
        if self.finished:
            return
        self.finished = True
        try:
            if self.json and self.buffer:
                self.call.json(json.loads(self.buffer + self.decode(b"", final=True)))
            elif self.sse:
                self._lines(self.decode(b"", final=True) + b"\n\n")
            self.call.done()
        except Exception:
            log.exception("costledger could not record a response")


# Subclasses of both libraries' stream types: each checks the type of a response's stream.
class _SyncTee(httpx2.SyncByteStream, httpx.SyncByteStream):
    def __init__(self, stream: Any, body: _Body) -> None:
        self._stream = stream
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self._body.feed(chunk)
            yield chunk
        self._body.done()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._body.done()


class _AsyncTee(httpx2.AsyncByteStream, httpx.AsyncByteStream):
    def __init__(self, stream: Any, body: _Body) -> None:
        self._stream = stream
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._body.feed(chunk)
            yield chunk
        self._body.done()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._body.done()


class _Decode(Protocol):
    def __call__(self, data: bytes, final: bool = False) -> bytes: ...


def _decoder(encoding: str) -> _Decode:
    """Content-Encoding undone chunk by chunk (the tee sees the bytes as they came off the wire)."""
    steps = [_step(name.strip().lower()) for name in reversed(encoding.split(",")) if name.strip()]

    def decode(data: bytes, final: bool = False) -> bytes:
        for step in steps:
            data = step(data, final)
        return data

    return decode


def _step(name: str) -> Callable[[bytes, bool], bytes]:
    if name in ("identity", ""):
        return lambda data, final: data
    if name in ("gzip", "x-gzip", "deflate"):
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 16 if name != "deflate" else zlib.MAX_WBITS)

        def step(data: bytes, final: bool) -> bytes:
            return inflate.decompress(data) + (inflate.flush() if final else b"")

        return step
    if name == "br":
        import brotli  # type: ignore[import-not-found]  # httpx2 decodes br only with it installed too

        brotli_step = brotli.Decompressor()
        return lambda data, final: bytes(brotli_step.process(data)) if data else b""
    if name == "zstd":
        import zstandard  # type: ignore[import-not-found]

        zstd_step = zstandard.ZstdDecompressor().decompressobj()
        return lambda data, final: bytes(zstd_step.decompress(data)) if data else b""
    raise ValueError(f"content-encoding {name!r}")
