"""The native parser's ``anthropic-messages`` mode and the pure parser give equal events
for the same bytes: random event sequences, hostile shapes, random bounds, random
splits of the byte stream."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import DoneEvent, ErrorEvent, Model, ModelCost

from ..transports.test_native_parity import both_for

MODEL = Model(
    "m",
    "http://127.0.0.1:1/v1",
    api="anthropic-messages",
    provider="p",
    cost=ModelCost(1, 2, 0.5, 3),
)

_text = st.text(max_size=8)
_json_any = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_index = st.integers(0, 3) | st.sampled_from([None, -1, 1.0, True, "0"])
_small = st.integers(0, 100) | st.sampled_from([None, 1.5, "7", True])
_usage = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": _small,
        "output_tokens": _small,
        "cache_read_input_tokens": _small,
        "cache_creation_input_tokens": _small,
    },
)
_block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": _text}),
    st.fixed_dictionaries(
        {"type": st.just("thinking"), "thinking": _text, "signature": st.sampled_from(["", "S"])}
    ),
    st.fixed_dictionaries({"type": st.just("redacted_thinking"), "data": _text}),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_use"),
            "id": st.sampled_from(["t0", "t1", ""]) | st.none(),
            "name": st.sampled_from(["f", ""]),
            "input": st.just({})
            | st.dictionaries(st.sampled_from("ab"), st.integers(-3, 3) | _text, max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["server_tool_use", "web_search_tool_result", "fancy"])}
    ),
    _json_any,
)
_delta = st.one_of(
    st.fixed_dictionaries({"type": st.just("text_delta"), "text": _text | st.integers()}),
    st.fixed_dictionaries(
        {
            "type": st.just("input_json_delta"),
            "partial_json": _text | st.just('{"a": 1}') | st.just(""),
        }
    ),
    st.fixed_dictionaries({"type": st.just("thinking_delta"), "thinking": _text}),
    st.fixed_dictionaries({"type": st.just("signature_delta"), "signature": _text}),
    st.fixed_dictionaries({"type": st.sampled_from(["citations_delta", "weird"])}),
    _json_any,
)
_event = st.one_of(
    st.builds(
        lambda mid, u: {"type": "message_start", "message": {"id": mid, "usage": u}},
        st.sampled_from(["m1", "m2"]) | st.none(),
        _usage,
    ),
    st.builds(
        lambda i, b: {"type": "content_block_start", "index": i, "content_block": b}, _index, _block
    ),
    st.builds(lambda i, d: {"type": "content_block_delta", "index": i, "delta": d}, _index, _delta),
    st.builds(lambda i: {"type": "content_block_stop", "index": i}, _index),
    st.builds(
        lambda r, u: {"type": "message_delta", "delta": {"stop_reason": r}, "usage": u},
        st.sampled_from(
            [
                "end_turn",
                "tool_use",
                "max_tokens",
                "refusal",
                "model_context_window_exceeded",
                "new",
            ]
        )
        | st.none(),
        _usage,
    ),
    st.just({"type": "message_stop"}),
    st.just({"type": "ping"}),
    st.builds(
        lambda t, m: {"type": "error", "error": {"type": t, "message": m}},
        st.sampled_from(["overloaded_error", "api_error", "invalid_request_error"]),
        _text,
    ),
    st.builds(lambda x: {"type": x}, _json_any),
    st.dictionaries(st.sampled_from(["type", "index", "delta", "x"]), _json_any, max_size=3),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    parts = []
    events = draw(st.lists(_event, max_size=14))
    if draw(st.sampled_from([True, True, False])):
        events.append({"type": "message_stop"})
    for e in events:
        hostile = draw(st.sampled_from([False] * 30 + [True]))
        data: bytes = draw(st.binary(max_size=5)) if hostile else json.dumps(e).encode()
        if isinstance(e, dict) and isinstance(e.get("type"), str):
            parts.append(b"event: " + e["type"].encode() + eol)
        parts.append(b"data: " + data.replace(b"\n", b"").replace(b"\r", b"") + eol + eol)
    if draw(st.sampled_from([False] * 5 + [True])):
        parts.append(b'data: {"type"')  # truncated at the end
    return b"".join(parts)


def both(
    body: bytes, cuts: list[int], max_line: int = 1 << 20, max_args: int = 1 << 20
) -> tuple[list[Any], list[Any]]:
    return both_for(MODEL, body, cuts, max_line, max_args)


@settings(max_examples=300, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_native_and_pure_anthropic_parsers_agree(body: bytes, cuts: list[int]) -> None:
    pure, native = both(body, cuts)
    assert native == pure
    assert isinstance(pure[-1], ErrorEvent | DoneEvent)


@settings(max_examples=150, deadline=None)
@given(
    body=bodies(),
    cuts=st.lists(st.integers(0, 4000), max_size=4),
    max_line=st.integers(8, 120),
    max_args=st.integers(1, 12),
)
def test_they_agree_on_bounds(body: bytes, cuts: list[int], max_line: int, max_args: int) -> None:
    pure, native = both(body, cuts, max_line, max_args)
    assert native == pure


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=5))
def test_arbitrary_bytes_agree_and_never_raise(body: bytes, cuts: list[int]) -> None:
    pure, native = both(body, cuts)
    assert native == pure
    assert isinstance(native[-1], ErrorEvent | DoneEvent)


_fragment = st.text(alphabet=st.sampled_from(list('ab"\\\n\u00e9\U0001f60a{}[],: ')), max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["text", "tool", "thinking"]), min_size=1, max_size=3),
    texts=st.lists(_fragment, min_size=1, max_size=12),
    tamper=st.integers(0, 30),
    stop_at=st.integers(0, 30),
    cuts=st.lists(st.integers(0, 6000), max_size=6),
)
def test_repeated_delta_layouts_take_the_same_path_on_both(
    kinds: list[str], texts: list[str], tamper: int, stop_at: int, cuts: list[int]
) -> None:
    # The native parser skips re-parsing deltas whose bytes around the varying string
    # match a layout it has seen; drive that path with hostile strings, a tampered
    # layout, deltas after their block stopped, and blocks of every kind.
    field = {
        "text": ("text_delta", "text"),
        "tool": ("input_json_delta", "partial_json"),
        "thinking": ("thinking_delta", "thinking"),
    }
    events: list[str] = [json.dumps({"type": "message_start", "message": {"id": "m"}})]
    for i, kind in enumerate(kinds):
        block = {
            "text": {"type": "text", "text": ""},
            "thinking": {"type": "thinking", "thinking": ""},
            "tool": {"type": "tool_use", "id": f"t{i}", "name": "f", "input": {}},
        }[kind]
        events.append(
            json.dumps({"type": "content_block_start", "index": i, "content_block": block})
        )
        dtype, key = field[kind]
        head = f'{{"type":"content_block_delta","index":{i},"delta":{{"type":"{dtype}","{key}":'
        for n, t in enumerate(texts):
            if n == stop_at:
                events.append(json.dumps({"type": "content_block_stop", "index": i}))
            events.append(head + json.dumps(t) + "}}")
        if tamper < len(texts):
            events.append(head + '"x","text":"y"}}')
        events.append(json.dumps({"type": "content_block_stop", "index": i}))
    events.append(json.dumps({"type": "message_stop"}))
    body = b"".join(b"data: " + e.encode() + b"\n\n" for e in events)
    pure, native = both(body, cuts)
    assert native == pure
