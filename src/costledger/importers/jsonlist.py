"""The items of a JSON list read a chunk at a time, so a list export of any size imports in
constant memory (json.load would hold the whole list, twice over with the import's two passes)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

CHUNK = 1 << 16
LONGEST = 1 << 26  # an item this long that still does not parse is not JSON, rather than cut off
_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"[0-9.eE+-]*")


def _past(pattern: re.Pattern[str], text: str, at: int) -> int:
    """Where a run of `pattern` (which matches the empty string too) starting at `at` ends."""
    found = pattern.match(text, at)
    return found.end() if found else at


class _Buffer:
    """Text read so far and not yet consumed, with the line number where it starts."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle, self.text, self.at, self.line, self.eof = handle, "", 0, 1, False

    def more(self) -> bool:
        """Read another chunk (dropping what was consumed); False at the end of the file."""
        if self.eof:
            return False
        self.line += self.text.count("\n", 0, self.at)
        chunk = self.handle.read(max(CHUNK, len(self.text) - self.at))  # a long item doubles the read
        self.text, self.at = self.text[self.at :] + chunk, 0
        self.eof = not chunk
        return bool(chunk)

    def skip_space(self) -> str:
        """The next character after white space ("" at the end of the file)."""
        while True:
            self.at = _past(_SPACE, self.text, self.at)
            if self.at < len(self.text) or not self.more():
                return self.text[self.at : self.at + 1]

    def where(self, offset: int) -> int:
        return self.line + self.text.count("\n", 0, offset)


def json_list(handle: IO[str]) -> Iterator[tuple[int, Any, str | None]]:
    """(position, item, None) for each item of the JSON list in `handle`, from 1; or, where the text
    stops being JSON, (line number, None, why) and nothing after it."""
    decoder = json.JSONDecoder()
    buffer = _Buffer(handle)
    if buffer.skip_space() != "[":
        yield buffer.where(buffer.at), None, "not a JSON list"
        return
    buffer.at += 1
    position = 0
    while True:
        if position == 0 and buffer.skip_space() == "]":
            buffer.at += 1
            break
        buffer.skip_space()
        try:
            item, end = decoder.raw_decode(buffer.text, buffer.at)
        except json.JSONDecodeError as exc:
            # Cut off by the end of the chunk, or not JSON: only more text tells (up to LONGEST).
            if len(buffer.text) - buffer.at < LONGEST and buffer.more():
                continue
            yield buffer.where(exc.pos), None, f"not valid JSON ({exc.msg})"
            return
        cut = isinstance(item, int | float) and _past(_NUMBER, buffer.text, end) == len(buffer.text)
        if cut and buffer.more():  # "1." of "1.25" decodes as 1: decode it again with the next chunk
            continue
        position += 1
        yield position, item, None
        buffer.at = end
        after = buffer.skip_space()
        buffer.at += 1
        if after == "]":
            break
        if after != ",":
            yield buffer.where(buffer.at - 1), None, "not valid JSON (Expecting ',' delimiter)"
            return
    if buffer.skip_space():
        yield buffer.where(buffer.at), None, "not valid JSON (Extra data)"
