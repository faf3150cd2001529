"""The AWS event-stream decoder alone: frames in any split, both CRCs, the header types,
the limits, and the payload each frame becomes."""

from __future__ import annotations

import struct
import zlib

import pytest

from tinyagent import StreamFormatError
from tinyagent.wire import EventStreamDecoder, encode_frame

EVENT = encode_frame(
    {":event-type": "messageStart", ":message-type": "event"}, b'{"role":"assistant"}'
)


def feed(*chunks: bytes, limit: int = 1 << 20) -> list[bytes]:
    decoder = EventStreamDecoder(limit)
    out = [p for c in chunks for p in decoder.feed_data(c)]
    assert not decoder.has_partial
    return out


def raw_frame(headers: bytes, payload: bytes) -> bytes:
    total = 16 + len(headers) + len(payload)
    prelude = struct.pack(">II", total, len(headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


def string(name: str, value: str) -> bytes:
    return (
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
    )


def test_frames_in_every_split_give_the_same_payloads() -> None:
    body = EVENT * 3
    whole = feed(body)
    assert whole == [b'{"messageStart":{"role":"assistant"}}'] * 3
    for cut in range(len(body)):
        assert feed(body[:cut], body[cut:]) == whole
    decoder = EventStreamDecoder(1 << 20)
    assert decoder.feed_data(EVENT[:-1]) == [] and decoder.has_partial


def test_exceptions_errors_and_frames_without_a_type() -> None:
    exception = encode_frame(
        {":exception-type": "throttlingException", ":message-type": "exception"}, b'{"message":"x"}'
    )
    error = encode_frame({":message-type": "error", ":error-code": "E"}, b"")
    untyped = encode_frame({":message-type": "event"}, b"{}")
    no_type_exception = encode_frame({":message-type": "exception"}, b"{}")
    assert feed(exception, error, untyped, no_type_exception) == [
        b'{"throttlingException":{"message":"x"}}',
        b'{"error":null}',
    ]


def test_every_header_type_is_read_past() -> None:
    others = b"".join(
        [
            bytes([1]) + b"t" + b"\x00",  # true
            bytes([1]) + b"f" + b"\x01",  # false
            bytes([1]) + b"b" + b"\x02" + b"\x07",
            bytes([1]) + b"s" + b"\x03" + b"\x00\x07",
            bytes([1]) + b"i" + b"\x04" + b"\x00" * 4,
            bytes([1]) + b"l" + b"\x05" + b"\x00" * 8,
            bytes([1]) + b"y" + b"\x06" + b"\x00\x02ab",
            bytes([1]) + b"d" + b"\x08" + b"\x00" * 8,
            bytes([1]) + b"u" + b"\x09" + b"\x00" * 16,
        ]
    )
    frame = raw_frame(others + string(":event-type", "metadata"), b"{}")
    assert feed(frame) == [b'{"metadata":{}}']
    # a later header of the same name wins; a bytes header of that name is not a type
    twice = raw_frame(string(":event-type", "a") + string(":event-type", "b"), b"1")
    assert feed(twice) == [b'{"b":1}']


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (
            EVENT[:8] + b"\x00\x00\x00\x00" + EVENT[12:],
            "corrupt event stream: a frame's prelude fails its CRC32",
        ),
        (EVENT[:-1] + bytes([EVENT[-1] ^ 1]), "corrupt event stream: a frame fails its CRC32"),
        (
            raw_frame(string(":event-type", "a b"), b"{}"),
            "corrupt event stream: a frame's type is not a plain name",
        ),
        (
            raw_frame(bytes([1]) + b"x" + b"\x0a", b"{}"),
            "corrupt event stream: a header of unknown type 10",
        ),
        (
            raw_frame(bytes([5]) + b"ab", b""),
            "corrupt event stream: a frame's headers are cut short",
        ),
        (raw_frame(bytes([0]), b""), "corrupt event stream: a frame's headers are cut short"),
        (
            raw_frame(bytes([1]) + b"x", b""),
            "corrupt event stream: a frame's headers are cut short",
        ),
        (
            raw_frame(bytes([1]) + b"x\x07\x00", b""),
            "corrupt event stream: a frame's headers are cut short",
        ),
        (
            raw_frame(bytes([1]) + b"x\x07\x00\x09ab", b""),
            "corrupt event stream: a frame's headers are cut short",
        ),
        (
            raw_frame(bytes([1]) + b"x\x05\x00", b""),
            "corrupt event stream: a frame's headers are cut short",
        ),
    ],
)
def test_a_corrupt_frame_is_an_error_that_keeps_the_frames_before_it(
    frame: bytes, says: str
) -> None:
    decoder = EventStreamDecoder(1 << 20)
    with pytest.raises(StreamFormatError) as caught:
        decoder.feed_data(EVENT + frame)
    assert str(caught.value) == says
    assert caught.value.partial == [b'{"messageStart":{"role":"assistant"}}']  # type: ignore[attr-defined]
    assert not decoder.has_partial


@pytest.mark.parametrize(("total", "header_len"), [(15, 0), (16, 1), (40, 30)])
def test_lengths_that_cannot_hold_their_headers(total: int, header_len: int) -> None:
    prelude = struct.pack(">II", total, header_len)
    with pytest.raises(
        StreamFormatError, match=f"a frame of {total} bytes cannot hold {header_len} of headers"
    ):
        EventStreamDecoder(1 << 20).feed_data(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_a_frame_over_the_limit_is_refused_before_it_is_buffered() -> None:
    big = encode_frame({":event-type": "x"}, b"{" + b" " * 100 + b"}")
    with pytest.raises(
        StreamFormatError, match=f"event stream frame of {len(big)} bytes, over the limit of 100"
    ):
        EventStreamDecoder(100).feed_data(big[:12])
    assert feed(big, limit=len(big)) == [b'{"x":{' + b" " * 100 + b"}}"]


def test_edges_of_the_header_block() -> None:
    # an empty frame (16 bytes: no headers, no payload) has no type: skipped
    assert feed(raw_frame(b"", b"")) == []
    # a string header whose empty value ends the block, and a fixed-size one that does
    tail_string = raw_frame(string(":event-type", "a") + string("x", ""), b"1")
    tail_int = raw_frame(
        string(":event-type", "b") + bytes([1]) + b"i" + b"\x04" + b"\x00" * 4, b"2"
    )
    assert feed(tail_string, tail_int) == [b'{"a":1}', b'{"b":2}']
    # a header name of no bytes is corrupt even with bytes after it
    with pytest.raises(StreamFormatError, match="headers are cut short"):
        EventStreamDecoder(1 << 20).feed_data(raw_frame(bytes([0]) + b"\x07\x00\x00", b""))


def test_a_long_header_value_is_read_unsigned() -> None:
    long = "v" * 40_000  # past 32,767: a signed length would read negative
    frame = encode_frame({"x-long": long, ":event-type": "a"}, b"1")
    assert feed(frame) == [b'{"a":1}']
