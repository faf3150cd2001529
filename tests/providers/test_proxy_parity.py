"""The proxy protocol both ways: every recorded stream of every format, relayed (our
relay's encoder) and read back by the proxy parser, comes out the message it went in as,
on the pure and the native parser alike; and the two parsers agree on random, hostile
and arbitrary proxy bodies."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import DoneEvent, ErrorEvent, Model, ModelCost
from tinyagent.providers import RelayEncoder
from tinyagent.transports import make_byte_parser

from ..conftest import conformance_dir
from ..transports.test_native_parity import both_for, run

PROXY = Model("m", "http://127.0.0.1:1", api="proxy", provider="p", cost=ModelCost(1, 2, 0.5, 3))

RECORDED = []
for _p in sorted([*conformance_dir().glob("*.sse"), *conformance_dir().glob("*.bin")]):
    _exp = json.loads(_p.with_name(_p.stem + ".expected.json").read_text())
    if _exp.get("http_status", 200) == 200:
        RECORDED.append((_p.name, _exp["format"], _p.read_bytes()))


def _relayed(events: list[Any], camel: bool) -> bytes:
    enc = RelayEncoder(camel)
    return enc.start() + b"".join(d for e in events if (d := enc.encode(e)) is not None)


def _same(a: Any, b: Any) -> None:
    """Two final messages equal in what the protocol carries (not the timestamp, the
    api, or the provider's own stop word, which becomes the relay's)."""
    assert a.content == b.content
    assert a.stop_reason == b.stop_reason
    assert a.error_message == b.error_message
    for f in ("input", "output", "cache_read", "cache_write", "reasoning", "total"):
        assert getattr(a.usage, f) == getattr(b.usage, f), f
    assert a.response_id == b.response_id
    if a.failure is not None:
        assert b.failure is not None and b.failure.kind == a.failure.kind


def test_every_format_has_recorded_streams() -> None:
    formats = {fmt for _, fmt, _ in RECORDED}
    assert len(formats) == 5 and len(RECORDED) >= 60


@pytest.mark.parametrize("camel", [False, True], ids=["seed", "pi"])
@pytest.mark.parametrize(("name", "fmt", "body"), RECORDED, ids=[n for n, _, _ in RECORDED])
def test_a_recorded_stream_relayed_reads_back_the_same(
    name: str, fmt: str, body: bytes, camel: bool
) -> None:
    source = attrs.evolve(PROXY, api=fmt)
    original = run(make_byte_parser(source), body, [])
    relayed = _relayed(original, camel)
    for native in (False, True):
        back = run(make_byte_parser(PROXY, native=native), relayed, [7, 50])
        _same(original[-1].message, back[-1].message)
        # the same blocks, started, streamed and ended the same way
        kinds = [type(e).__name__ for e in original]
        assert [type(e).__name__ for e in back] == kinds


_idx = st.integers(0, 3) | st.none() | st.just("0") | st.just(1.0)
_text = st.text(max_size=6)
_json_any = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_count = st.integers(0, 50) | st.sampled_from([None, 1.5, "7", True, -3, 2**63])
_usage = st.fixed_dictionaries(
    {},
    optional={
        k: _count for k in ("input", "output", "cache_read", "cacheRead", "cacheWrite", "reasoning")
    },
)
_event = st.one_of(
    st.builds(
        lambda t, i: {"type": t, "contentIndex": i},
        st.sampled_from(
            ["text_start", "thinking_start", "text_end", "thinking_end", "toolcall_end"]
        ),
        _idx,
    ),
    st.builds(
        lambda t, i, d: {"type": t, "contentIndex": i, "delta": d},
        st.sampled_from(["text_delta", "thinking_delta", "toolcall_delta"]),
        _idx,
        _text | st.none() | st.just('{"a":'),
    ),
    st.builds(
        lambda i, n: {"type": "toolcall_start", "contentIndex": i, "id": "c1", "toolName": n},
        _idx,
        st.sampled_from(["f", "", None]),
    ),
    st.builds(
        lambda i, s, r: {
            "type": "thinking_end",
            "contentIndex": i,
            "contentSignature": s,
            "redacted": r,
        },
        _idx,
        st.sampled_from(["S", "", None]),
        st.sampled_from([True, False, "true"]),
    ),
    st.builds(
        lambda r, u, rid: {"type": "done", "reason": r, "usage": u, "responseId": rid},
        st.sampled_from(["stop", "toolUse", "tool_use", "length", "x", None]),
        _usage,
        st.sampled_from(["r1", None]),
    ),
    st.builds(
        lambda m, f: {
            "type": "error",
            "reason": "error",
            "errorMessage": m,
            "usage": {},
            **({"failure": f} if f else {}),
        },
        _text,
        st.sampled_from(
            [None, {"kind": "rate_limit", "status": 429, "retryAfter": 2}, {"kind": "nope"}]
        ),
    ),
    st.just({"type": "start"}),
    _json_any,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    parts = []
    for ev in draw(st.lists(_event, max_size=10)):
        hostile = draw(st.sampled_from([False] * 30 + [True]))
        data = draw(st.binary(max_size=5)) if hostile else json.dumps(ev).encode()
        parts.append(b"data: " + data.replace(b"\n", b"").replace(b"\r", b"") + b"\n\n")
    return b"".join(parts)


@settings(max_examples=300, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 2000), max_size=6))
def test_native_and_pure_proxy_parsers_agree(body: bytes, cuts: list[int]) -> None:
    pure, native = both_for(PROXY, body, cuts)
    assert native == pure
    assert isinstance(pure[-1], ErrorEvent | DoneEvent)


@settings(max_examples=100, deadline=None)
@given(
    body=bodies(),
    cuts=st.lists(st.integers(0, 2000), max_size=4),
    max_line=st.integers(8, 120),
    max_args=st.integers(1, 12),
)
def test_they_agree_on_bounds(body: bytes, cuts: list[int], max_line: int, max_args: int) -> None:
    pure, native = both_for(PROXY, body, cuts, max_line, max_args)
    assert native == pure


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=5))
def test_arbitrary_bytes_agree_and_never_raise(body: bytes, cuts: list[int]) -> None:
    pure, native = both_for(PROXY, body, cuts)
    assert native == pure
    assert isinstance(native[-1], ErrorEvent | DoneEvent)
