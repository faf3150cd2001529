"""The AWS event stream (``application/vnd.amazon.eventstream``): a sans-IO decoder of
its binary frames, fed in pieces of any size, the framing beside SSE.

A frame is: total length (u32, big-endian), headers length (u32), the CRC32 of those
eight bytes, the headers, the payload, the CRC32 of everything before it. Both CRCs are
checked: a frame that fails either is a corrupt stream, never a guess at what it held.
A header is a name (u8 length), a type (u8) and a value of that type.

Each frame becomes one payload for the format's parser: ``{"<type>": <payload>}``,
where the type is the ``:event-type`` (an event), the ``:exception-type`` (an
exception), or ``error`` for an error message (an empty payload is ``null``). That is the shape of the
format's own JSON union, so the parser reads a key and a member. A frame without a type
is skipped. The native core's ``EventStreamDecoder`` (``native/src/eventstream.rs``)
follows exactly these rules and words.
"""

from __future__ import annotations

import re
import struct
import zlib

from ..messages import StreamFormatError

__all__ = ["EventStreamDecoder", "encode_frame"]

_PRELUDE = 12
_OVERHEAD = 16
_NAME = re.compile(rb"[A-Za-z0-9_.:-]{1,128}")
# The value sizes of the fixed-size header types (0 and 1 are true and false: none).
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


def _corrupt(why: str) -> StreamFormatError:
    return StreamFormatError(f"corrupt event stream: {why}")


class EventStreamDecoder:
    """Frames in (any split), payloads out; ``max_frame_bytes`` bounds one frame."""

    def __init__(self, max_frame_bytes: int) -> None:
        self._max = max_frame_bytes
        self._buf = bytearray()
        # header block -> the payload's prefix (b'{"name":') or None (no type): a
        # stream repeats a handful of header blocks, so each is read once.
        self._prefixes: dict[bytes, bytes | None] = {}

    @property
    def has_partial(self) -> bool:
        """Bytes of a frame not yet complete (a body that ends here is cut short)."""
        return bool(self._buf)

    def feed_data(self, chunk: bytes) -> list[bytes]:
        buf = self._buf
        buf += chunk
        out: list[bytes] = []
        pos, size = 0, len(buf)
        view = memoryview(buf)
        try:
            while size - pos >= _PRELUDE:
                total, header_len, prelude_crc = _UNPACK_PRELUDE(buf, pos)
                if zlib.crc32(view[pos : pos + 8]) != prelude_crc:
                    raise _corrupt("a frame's prelude fails its CRC32")
                if total > self._max:
                    raise StreamFormatError(
                        f"event stream frame of {total} bytes, over the limit of {self._max}"
                    )
                if total < _OVERHEAD or header_len > total - _OVERHEAD:
                    raise _corrupt(f"a frame of {total} bytes cannot hold {header_len} of headers")
                end = pos + total
                if size < end:
                    break
                if zlib.crc32(view[pos : end - 4]) != _UNPACK_CRC(buf, end - 4)[0]:
                    raise _corrupt("a frame fails its CRC32")
                headers = bytes(view[pos + _PRELUDE : pos + _PRELUDE + header_len])
                prefix = self._prefixes.get(headers, _UNSEEN)
                if prefix is _UNSEEN:
                    prefix = _prefix(_headers(headers))
                    if len(self._prefixes) < 64:
                        self._prefixes[headers] = prefix
                if prefix is not None:
                    body = bytes(view[pos + _PRELUDE + header_len : end - 4])
                    out.append(prefix + (body or b"null") + b"}")
                pos = end
        except StreamFormatError as exc:
            exc.partial = out  # type: ignore[attr-defined]
            view.release()
            buf.clear()
            raise
        view.release()
        if pos:
            del buf[:pos]
        return out


_UNPACK_PRELUDE = struct.Struct(">III").unpack_from
_UNPACK_CRC = struct.Struct(">I").unpack_from
_UNSEEN = b""


def _headers(raw: bytes) -> dict[bytes, bytes]:
    """The string headers (the others are read past, their values unused)."""
    headers: dict[bytes, bytes] = {}
    i, end = 0, len(raw)
    while i < end:
        size = raw[i]
        name = raw[i + 1 : i + 1 + size]
        i += 1 + size
        if len(name) != size or size == 0 or i >= end:
            raise _corrupt("a frame's headers are cut short")
        kind = raw[i]
        i += 1
        if kind in (6, 7):
            if i + 2 > end:
                raise _corrupt("a frame's headers are cut short")
            (length,) = struct.unpack_from(">H", raw, i)
            value = raw[i + 2 : i + 2 + length]
            i += 2 + length
            if len(value) != length:
                raise _corrupt("a frame's headers are cut short")
            if kind == 7:
                headers[name] = value
        elif kind in _FIXED:
            i += _FIXED[kind]
            if i > end:
                raise _corrupt("a frame's headers are cut short")
        else:
            raise _corrupt(f"a header of unknown type {kind}")
    return headers


def _prefix(headers: dict[bytes, bytes]) -> bytes | None:
    """The payload's opening for a frame with these headers (``b'{"name":'``), or None
    for a frame with no type."""
    kind = headers.get(b":message-type", b"event")
    if kind == b"error":
        name: bytes | None = b"error"
    else:
        name = headers.get(b":exception-type" if kind == b"exception" else b":event-type")
    if name is None:
        return None  # no type: nothing a parser could place
    if not _NAME.fullmatch(name):
        raise _corrupt("a frame's type is not a plain name")
    return b'{"' + name + b'":'


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One frame with string headers (tests and the local server use it)."""
    raw = b"".join(
        bytes([len(k.encode())])
        + k.encode()
        + b"\x07"
        + struct.pack(">H", len(v.encode()))
        + v.encode()
        for k, v in headers.items()
    )
    total = _OVERHEAD + len(raw) + len(payload)
    prelude = struct.pack(">II", total, len(raw))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + payload
    return head + struct.pack(">I", zlib.crc32(head))
