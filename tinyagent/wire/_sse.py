"""A sans-IO decoder for Server-Sent Events (WHATWG EventSource rules).

Bytes go in through :meth:`SSEDecoder.feed`, finished events come out; there is no I/O,
so any transport (httpx, the native core, a test) can drive it, and property tests can
split the input anywhere. Lines are only decoded once complete, which is what makes a
UTF-8 code point split across two reads come out whole.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._util.wording import data_too_long, line_too_long, pending_line_too_long
from ..messages import StreamFormatError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


@attrs.frozen
class ServerSentEvent:
    """One dispatched event. ``id`` is the stream's last event id, which persists across
    events as the spec says; ``retry`` is set only on the event whose block carried it."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Turns a byte stream into :class:`ServerSentEvent` records.

    ``max_line_bytes`` bounds both a single line and the data of one event, so that a
    server that never sends a newline cannot grow memory without limit; past it
    :meth:`feed` raises :class:`StreamFormatError`.
    """

    __slots__ = (
        "_bom_done",
        "_data",
        "_data_size",
        "_event",
        "_last_id",
        "_max",
        "_pending",
        "_pending_size",
        "_retry",
        "_skip_lf",
    )

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._pending: list[bytes] = []  # pieces of an unfinished line, joined once
        self._pending_size = 0
        self._skip_lf = False  # the last read ended in CR: a leading LF is its pair
        self._bom_done = False
        self._data: list[bytes] = []
        self._data_size = 0
        self._event = b""
        self._last_id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume one read; return the events it completed (often none, often many)."""
        return self._feed(chunk, True)

    def feed_data(self, chunk: bytes) -> list[bytes]:
        """Like :meth:`feed`, but return only each event's data, as raw UTF-8 bytes.

        The fast path for parsers that only need the payload (chat-completion chunks go
        straight to a JSON parser that takes bytes); ``event``/``id``/``retry`` are
        still tracked, just not returned.
        """
        return self._feed(chunk, False)

    def _feed(self, chunk: bytes, records: bool) -> list[Any]:
        out: list[Any] = []
        try:
            block = self._complete_lines(chunk)
            if block is not None:
                self._blocks(block, records, out)
            if self._pending_size > self._max:
                raise StreamFormatError(pending_line_too_long(self._max))
        except StreamFormatError as exc:
            # Nothing received is lost: the events completed before the bad line
            # travel with the error.
            exc.partial = out  # type: ignore[attr-defined]
            raise
        return out

    def _blocks(self, block: bytes, records: bool, out: list[Any]) -> None:
        """Split complete lines at blank lines; a block that is one ``data:`` line (what
        every LLM server sends) skips the line-by-line state machine."""
        parts = block.split(b"\n\n")
        last = parts.pop()
        start = 0
        if parts and (self._data or self._event or self._retry is not None):
            # The first block continues an event begun in an earlier read.
            self._lines([*parts[0].split(b"\n"), b""], records, out)
            start = 1
        limit = self._max
        for i in range(start, len(parts)):
            part = parts[i]
            if part[:6] == b"data: " and b"\n" not in part and len(part) <= limit:
                value = part[6:]
                if records:
                    out.append(
                        ServerSentEvent(value.decode("utf-8", "replace"), "message", self._last_id)
                    )
                else:
                    out.append(value)
            else:
                self._lines([*part.split(b"\n"), b""], records, out)
        self._lines(last.split(b"\n"), records, out)

    def _complete_lines(self, chunk: bytes) -> bytes | None:
        """Take one read; return the complete lines it finished (LF-normalised, without
        the last LF), or None. Keeps the unfinished tail."""
        if not chunk:
            return None
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
                if not chunk:
                    return None
        if b"\r" in chunk:
            # Normalise CRLF and lone CR to LF. A CR that ends this read is a line end
            # now; if the next read starts with LF, that LF belongs to it and is dropped.
            self._skip_lf = chunk[-1] == 0x0D
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not self._bom_done:
            head = b"".join(self._pending) + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._pending = [head]
                self._pending_size = len(head)
                return None
            self._bom_done = True
            if head.startswith(_BOM):
                head = head[3:]
            self._pending = []
            self._pending_size = 0
            chunk = head
        end = chunk.rfind(b"\n")
        if end < 0:
            self._pending.append(chunk)
            self._pending_size += len(chunk)
            return None
        if self._pending:
            self._pending.append(chunk[:end])
            block = b"".join(self._pending)
            self._pending = []
        else:
            block = chunk[:end]
        rest = chunk[end + 1 :]
        if rest:
            self._pending.append(rest)
        self._pending_size = len(rest)
        return block

    def _lines(self, lines: list[bytes], records: bool, out: list[Any]) -> None:
        data = self._data
        for line in lines:
            if not line:
                if data:
                    if records:
                        out.append(self._dispatch())
                    else:
                        out.append(data[0] if len(data) == 1 else b"\n".join(data))
                        self._data = []
                        self._data_size = 0
                        self._event = b""
                        self._retry = None
                    data = self._data
                else:
                    self._event = b""
                    self._retry = None
                continue
            if line.startswith(b"data:"):
                value = line[6:] if line[5:6] == b" " else line[5:]
                self._data_size += len(value) + 1
                if self._data_size > self._max or len(line) > self._max:
                    raise StreamFormatError(data_too_long(self._max))
                data.append(value)
                continue
            if len(line) > self._max:
                raise StreamFormatError(line_too_long(self._max))
            if line[0] == 0x3A:  # ":" starts a comment (keep-alives, OPENROUTER PROCESSING)
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"event":
                self._event = value
            elif name == b"data":  # "data" with no colon: an empty data line
                data.append(b"")
                self._data_size += 1
                if self._data_size > self._max:
                    raise StreamFormatError(data_too_long(self._max))
            elif name == b"id":
                if b"\0" not in value:
                    self._last_id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                self._retry = int(value)
            # any other field is ignored, as the spec says

    def _dispatch(self) -> ServerSentEvent:
        data = self._data
        text = (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", "replace")
        event = self._event.decode("utf-8", "replace") if self._event else "message"
        ev = ServerSentEvent(text, event, self._last_id, self._retry)
        self._data = []
        self._data_size = 0
        self._event = b""
        self._retry = None
        return ev

    @property
    def has_partial(self) -> bool:
        """True if bytes of an unfinished line or event are held (a truncated stream)."""
        return bool(self._pending_size or self._data)
