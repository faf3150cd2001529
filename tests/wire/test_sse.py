from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyagent import ServerSentEvent, SSEDecoder, StreamFormatError


def decode(*reads: bytes) -> list[ServerSentEvent]:
    d = SSEDecoder()
    out: list[ServerSentEvent] = []
    for r in reads:
        out += d.feed(r)
    return out


def test_simple_events_and_default_type() -> None:
    assert decode(b"data: a\n\ndata: b\n\n") == [ServerSentEvent("a"), ServerSentEvent("b")]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(eol: bytes) -> None:
    body = b"event: x" + eol + b"data: 1" + eol + b"data: 2" + eol + eol
    assert decode(body) == [ServerSentEvent("1\n2", "x")]


def test_crlf_split_across_reads_is_one_line_end() -> None:
    # "\r" ends a read and "\n" starts the next: one line end, not an empty line between.
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [ServerSentEvent("a\nb")]


def test_lone_cr_at_end_of_read_dispatches_without_waiting() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\r") == [ServerSentEvent("a")]


def test_comments_are_ignored() -> None:
    assert decode(b": OPENROUTER PROCESSING\n\n: keep-alive\ndata: x\n\n") == [ServerSentEvent("x")]


def test_id_persists_and_retry_is_per_event() -> None:
    events = decode(b"id: 7\nretry: 1500\ndata: a\n\ndata: b\n\nid\ndata: c\n\n")
    assert events == [
        ServerSentEvent("a", id="7", retry=1500),
        ServerSentEvent("b", id="7"),
        ServerSentEvent("c", id=""),
    ]


def test_field_without_colon_and_without_space() -> None:
    assert decode(b"data\ndata:x\n\n") == [ServerSentEvent("\nx")]


def test_id_with_nul_is_ignored_and_bad_retry_is_ignored() -> None:
    assert decode(b"id: a\0b\nretry: 12x\ndata: d\n\n") == [ServerSentEvent("d")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [ServerSentEvent("x")]


def test_unknown_fields_are_ignored() -> None:
    assert decode(b"foo: bar\ndata: x\n\n") == [ServerSentEvent("x")]


def test_bom_is_stripped_once_even_split() -> None:
    assert decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [ServerSentEvent("x")]
    # A second BOM is data, not a marker.
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []


def test_code_point_split_across_reads() -> None:
    raw = "data: héllo 😊\n\n".encode()
    cut = raw.index("😊".encode()) + 2
    assert decode(raw[:cut], raw[cut:]) == [ServerSentEvent("héllo 😊")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode(b"data: \xff\n\n") == [ServerSentEvent("\ufffd")]


def test_incomplete_event_at_end_is_held_not_dispatched() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: x\n") == []
    assert d.has_partial


def test_line_longer_than_bound_raises_clear_error() -> None:
    d = SSEDecoder(max_line_bytes=100)
    d.feed(b"data: " + b"x" * 60)
    with pytest.raises(StreamFormatError, match="longer than 100 bytes"):
        d.feed(b"x" * 60)


def test_complete_line_longer_than_bound_raises() -> None:
    d = SSEDecoder(max_line_bytes=100)
    with pytest.raises(StreamFormatError, match="longer than 100"):
        d.feed(b"data: " + b"x" * 200 + b"\n\n")


def test_many_data_lines_are_bounded_too() -> None:
    d = SSEDecoder(max_line_bytes=100)
    with pytest.raises(StreamFormatError, match="event data longer"):
        d.feed(b"data: 0123456789\n" * 20)


# --- property: any split of the byte stream gives the same events -----------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)
_field = st.one_of(
    _text.map(lambda t: ("data", t)),
    _text.map(lambda t: ("event", t)),
    _text.map(lambda t: ("id", t.replace("\0", ""))),
    st.integers(0, 10**6).map(lambda n: ("retry", str(n))),
    _text.map(lambda t: ("", t)),  # a comment
)
_block = st.lists(_field, min_size=1, max_size=4)


def _encode(blocks: list[list[tuple[str, str]]], eol: bytes, bom: bool) -> bytes:
    out = b"\xef\xbb\xbf" if bom else b""
    for block in blocks:
        for name, value in block:
            out += name.encode() + b": " + value.encode() + eol
        out += eol
    return out


@given(
    blocks=st.lists(_block, max_size=8),
    eol=st.sampled_from([b"\n", b"\r", b"\r\n"]),
    bom=st.booleans(),
    cuts=st.lists(st.integers(0, 2000), max_size=12),
)
def test_any_split_gives_the_same_events(
    blocks: list[list[tuple[str, str]]], eol: bytes, bom: bool, cuts: list[int]
) -> None:
    raw = _encode(blocks, eol, bom)
    whole = decode(raw)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    assert decode(*pieces) == whole
    # And byte by byte, the worst case for CRLF and code points.
    assert decode(*[raw[i : i + 1] for i in range(len(raw))]) == whole
    # The events say what the blocks said.
    expected = []
    last_id = ""
    for block in blocks:
        data = [v for n, v in block if n == "data"]
        etype = [v for n, v in block if n == "event"]
        for n, v in block:
            if n == "id":
                last_id = v
        retry = [int(v) for n, v in block if n == "retry"]
        if data:
            expected.append(
                ServerSentEvent(
                    "\n".join(data),
                    (etype[-1] or "message") if etype else "message",
                    last_id,
                    retry[-1] if retry else None,
                )
            )
    assert whole == expected


# --- cases the mutation run of 2026-11-26 (benches/mutation.py) showed untested ---
# Each runs through feed() (records) and feed_data() (the payload fast path the
# parsers use): both must agree on every one.


def decode_data(*reads: bytes, limit: int = 1 << 20) -> list[bytes]:
    d = SSEDecoder(limit)
    out: list[bytes] = []
    for r in reads:
        out += d.feed_data(r)
    return out


def E(data: str, event: str = "message") -> ServerSentEvent:
    return ServerSentEvent(data, event)


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        # A read boundary between the two LFs of "\n\n", then a further event.
        ((b"data: a\n", b"\ndata: b\n\n"), [E("a"), E("b")]),
        # An event continuing from an earlier read must not take the fast path.
        ((b"data: a\n", b"data: b\n\ndata: c\n\n"), [E("a\nb"), E("c")]),
        ((b"event: x\n", b"data: b\n\ndata: c\n\n"), [E("b", "x"), E("c")]),
        # Mixed line endings across reads.
        ((b"data: a\r", b"data: b", b"\n\n"), [E("a\nb")]),
        # A bare ":" comment and one-byte field lines.
        ((b":\ndata: x\n\n",), [E("x")]),
        ((b"data\n\n",), [E("")]),
        # Invalid UTF-8 on the fast path is replaced, and what follows survives.
        ((b"data: \xff\n\ndata: x\n\n",), [E("\ufffd"), E("x")]),
        # Invalid UTF-8 in event names.
        ((b"event: \xff\ndata: y\n\n",), [E("y", "\ufffd")]),
    ],
)
def test_edge_reads_on_both_paths(
    reads: tuple[bytes, ...], expected: list[ServerSentEvent]
) -> None:
    assert decode(*reads) == expected
    assert [p.decode("utf-8", "replace") for p in decode_data(*reads)] == [e.data for e in expected]


def test_a_bom_in_a_later_read_is_data_not_a_bom() -> None:
    bom = b"\xef\xbb\xbf"
    assert decode(bom, bom + b"data: x\n\n") == []  # the second BOM starts a field name
    assert decode_data(bom, bom + b"data: x\n\n") == []
    assert not SSEDecoder().has_partial


@pytest.mark.parametrize("path", ["feed", "feed_data"])
def test_a_broken_bound_keeps_what_came_before(path: str) -> None:
    d = SSEDecoder(100)
    with pytest.raises(StreamFormatError, match="longer than 100 bytes") as info:
        getattr(d, path)(b"data: a\n\n" + b"x" * 200)
    partial = info.value.partial  # type: ignore[attr-defined]
    assert partial == ([E("a")] if path == "feed" else [b"a"])


@pytest.mark.parametrize("path", ["feed", "feed_data"])
def test_an_overlong_comment_or_field_line_is_bounded(path: str) -> None:
    d = SSEDecoder(100)
    with pytest.raises(StreamFormatError, match="SSE line longer than 100 bytes"):
        getattr(d, path)(b": " + b"x" * 200 + b"\ndata: y\n\n")


@pytest.mark.parametrize("path", ["feed", "feed_data"])
def test_bounds_are_exact(path: str) -> None:
    # Two 49-byte data lines make 98 bytes of data (+1 joining LF) within 100: fine.
    ok = b"data: " + b"a" * 49 + b"\ndata: " + b"b" * 49 + b"\n\n"
    assert len(getattr(SSEDecoder(100), path)(ok)) == 1
    # A held line of exactly the bound is fine; one byte more is not.
    assert getattr(SSEDecoder(100), path)(b"x" * 100) == []
    with pytest.raises(StreamFormatError):
        getattr(SSEDecoder(100), path)(b"x" * 101)
    # Event data of bound + 1 bytes is too long.
    with pytest.raises(StreamFormatError, match="event data longer than 100"):
        getattr(SSEDecoder(100), path)(b"data: " + b"a" * 60 + b"\ndata: " + b"b" * 60 + b"\n\n")


@pytest.mark.parametrize("path", ["feed", "feed_data"])
def test_bounds_are_exact_per_line_and_per_event(path: str) -> None:
    def run(*reads: bytes) -> int:
        d = SSEDecoder(100)
        return sum(len(getattr(d, path)(r)) for r in reads)

    # A line of exactly the bound is fine, data or comment.
    assert run(b"data: " + b"a" * 94 + b"\n\n") == 1
    assert run(b": " + b"c" * 98 + b"\ndata: x\n\n") == 1
    # Each data line counts its bytes and one joining byte: 61 + 40 is one too many.
    with pytest.raises(StreamFormatError):
        run(b"data: " + b"a" * 60 + b"\ndata: " + b"b" * 39 + b"\n\n")
    # So do empty data lines (no colon): each line is short, the event is not.
    assert run(b"data: " + b"a" * 89 + b"\n" + b"data\n" * 10 + b"\n") == 1  # 90 + 10
    with pytest.raises(StreamFormatError, match="event data longer than 100"):
        run(b"data: " + b"a" * 89 + b"\n" + b"data\n" * 11 + b"\n")
    with pytest.raises(StreamFormatError, match="event data longer than 100"):
        run(b"data\n" * 101 + b"\n")
    # The count starts afresh with each event.
    full = b"data: " + b"a" * 49 + b"\ndata: " + b"b" * 49 + b"\n\n"
    assert run(b"data: x\n\n", full) == 2
    assert run(b"data: x\n\n" + full + full) == 3


def test_a_pending_retry_keeps_the_event_off_the_fast_path() -> None:
    assert decode(b"retry: 5\n", b"data: b\n\n")[0].retry == 5


def test_invalid_utf8_in_an_id_is_replaced() -> None:
    assert decode(b"id: \xff\ndata: x\n\n")[0].id == "\ufffd"


def test_a_line_end_before_a_bom_makes_it_data() -> None:
    # Only the very first bytes of the stream may be a BOM.
    assert decode(b"\n\xef\xbb\xbfdata: x\n\n") == []


def test_a_partial_bom_is_held() -> None:
    d = SSEDecoder()
    assert d.feed(b"\xef") == [] and d.has_partial
    assert d.feed(b"\xbb") == [] and d.has_partial
    assert d.feed(b"\xbfd") == [] and d.has_partial
    assert d.feed(b"ata: x\n\n") == [ServerSentEvent("x")] and not d.has_partial
