"""The native parser and the pure one give equal events for the same bytes, however
they are split, including malformed and hostile input."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import (
    AssistantMessage,
    DoneEvent,
    ErrorEvent,
    Model,
    ModelCost,
    StopReason,
    native_available,
)
from tinyagent.transports import make_byte_parser

MODEL = Model("m", "http://127.0.0.1:1/v1", provider="p", cost=ModelCost(1, 2, 0.5, 3))


def test_the_extension_is_built() -> None:
    # The README's install builds it; the parity tests below are meaningless without it.
    assert native_available()


def normalise(events: list[Any]) -> list[Any]:
    out = []
    for e in events:
        if isinstance(e, DoneEvent | ErrorEvent):
            m: AssistantMessage = attrs.evolve(e.message, timestamp=0.0)
            e = type(e)(m)  # error objects are compared by their words, in the message
        out.append(e)
    return out


def run(parser: Any, body: bytes, cuts: list[int]) -> list[Any]:
    events: list[Any] = []
    last = 0
    for c in sorted(c % (len(body) + 1) for c in cuts):
        events += parser.feed(body[last:c]) if c > last else []
        last = max(last, c)
        if parser.message is not None:
            break
    if parser.message is None:
        events += parser.feed(body[last:])
    if parser.message is None:
        events += parser.end_of_stream()
    return normalise(events)


def both_for(
    model: Model, body: bytes, cuts: list[int], max_line: int = 1 << 20, max_args: int = 1 << 20
) -> tuple[list[Any], list[Any]]:
    """The pure and the native parser's events for the same bytes, split the same way."""
    opts = {"max_line_bytes": max_line, "max_argument_bytes": max_args}
    pure = run(make_byte_parser(model, **opts), body, cuts)
    native = run(make_byte_parser(model, native=True, **opts), body, cuts)
    return pure, native


def both(
    body: bytes, cuts: list[int], max_line: int = 1 << 20, max_args: int = 1 << 20
) -> tuple[list[Any], list[Any]]:
    return both_for(MODEL, body, cuts, max_line, max_args)


_text = st.text(max_size=8)
_json_any = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_tool_delta = st.fixed_dictionaries(
    {},
    optional={
        "index": st.integers(0, 2) | st.none() | st.just("0"),
        "id": st.sampled_from(["c0", "c1", ""]) | st.none(),
        "function": st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["f", "g", ""]),
                "arguments": _text | st.just('{"a": 1}'),
            },
        ),
    },
)
_delta = st.fixed_dictionaries(
    {},
    optional={
        "content": _text
        | st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["text", "thinking"]),
                    "text": _text,
                    "thinking": _text
                    | st.lists(st.fixed_dictionaries({"text": _text}), max_size=2),
                }
            ),
            max_size=2,
        ),
        "reasoning_content": _text | st.none(),
        "reasoning": _text,
        "reasoning_details": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(
                        ["reasoning.text", "reasoning.summary", "reasoning.encrypted"]
                    ),
                    "text": _text,
                    "summary": _text,
                }
            ),
            max_size=2,
        ),
        "tool_calls": st.lists(_tool_delta, max_size=2),
        "refusal": _text | st.none(),
        "role": st.just("assistant"),
    },
)
_usage = st.fixed_dictionaries(
    {"prompt_tokens": st.integers(0, 100), "completion_tokens": st.integers(0, 100)},
    optional={
        "prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 50)}),
        "completion_tokens_details": st.fixed_dictionaries(
            {"reasoning_tokens": st.integers(0, 50)}
        ),
    },
)
_chunk = st.one_of(
    st.builds(
        lambda d, fr, u, i: {
            "id": i,
            "choices": [{"index": 0, "delta": d, "finish_reason": fr}],
            **({"usage": u} if u else {}),
        },
        _delta,
        st.none() | st.sampled_from(["stop", "length", "tool_calls", "content_filter", "weird"]),
        st.none() | _usage,
        st.just("r1") | st.integers(),
    ),
    st.builds(lambda u: {"choices": [], "usage": u}, _usage),
    st.builds(lambda m: {"error": {"message": m, "code": 502}}, _text),
    st.builds(lambda x: {"choices": x}, _json_any),  # hostile shapes
    st.builds(lambda d: {"choices": [{"delta": d}]}, _json_any),
)
_event = st.one_of(
    _chunk.map(lambda c: json.dumps(c).encode()),
    st.just(b"[DONE]"),
    st.just(b'{"choices": [oops'),
    st.just(b"[1, 2]"),
    st.binary(max_size=6),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    parts = []
    if draw(st.booleans()):
        parts.append(b"\xef\xbb\xbf")
    for data in draw(st.lists(_event, max_size=10)):
        if draw(st.integers(0, 9)) == 0:
            parts.append(b": keep-alive" + eol)
        parts.append(b"data: " + data.replace(b"\n", b"").replace(b"\r", b"") + eol + eol)
    if draw(st.booleans()):
        parts.append(b"data: [DONE]" + eol + eol)
    if draw(st.integers(0, 5)) == 0:
        parts.append(b'data: {"choices"')  # truncated at the end
    return b"".join(parts)


@settings(max_examples=300, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_native_and_pure_parsers_agree(body: bytes, cuts: list[int]) -> None:
    pure, native = both(body, cuts)
    assert native == pure


@settings(max_examples=200, deadline=None)
@given(
    body=bodies(),
    cuts=st.lists(st.integers(0, 4000), max_size=4),
    max_line=st.integers(8, 120),
    max_args=st.integers(1, 12),
)
def test_they_agree_on_bounds(body: bytes, cuts: list[int], max_line: int, max_args: int) -> None:
    pure, native = both(body, cuts, max_line, max_args)
    assert native == pure


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=5))
def test_arbitrary_bytes_agree_and_never_raise(body: bytes, cuts: list[int]) -> None:
    pure, native = both(body, cuts)
    assert native == pure
    assert isinstance(native[-1], ErrorEvent | DoneEvent)


def test_abort_keeps_partial_blocks_on_both() -> None:
    body = b'data: {"choices":[{"delta":{"content":"par"}}]}\n\ndata: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\\"a\\""}}]}}]}\n\n'
    results = []
    for parser in (make_byte_parser(MODEL), make_byte_parser(MODEL, native=True)):
        events = parser.feed(body)
        events += parser.fail("stopped", stop_reason=StopReason.ABORTED)
        results.append(normalise(events))
    assert results[0] == results[1]
    final = results[0][-1]
    assert final.message.stop_reason is StopReason.ABORTED and final.message.text == "par"
    assert final.message.tool_calls[0].raw_arguments == '{"a"'


@pytest.mark.parametrize("size", [1 << 20, 3 << 20])
def test_large_reads_parse_outside_the_gil_with_the_same_result(size: int) -> None:
    chunk = b'data: {"choices":[{"delta":{"content":"xy"}}]}\n\n'
    body = (
        chunk * (size // len(chunk))
        + b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    pure, native = both(body, [])
    assert native == pure
    assert pure[-1].message.text == "xy" * (size // len(chunk))


_fragment = st.text(alphabet=st.sampled_from(list('ab"\\\n\u00e9\U0001f60a{}[],: ')), max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(_fragment, min_size=1, max_size=12),
    args=st.lists(_fragment, max_size=12),
    tamper=st.integers(0, 30),
    cuts=st.lists(st.integers(0, 6000), max_size=6),
)
def test_repeated_layouts_take_the_same_path_on_both(
    texts: list[str], args: list[str], tamper: int, cuts: list[int]
) -> None:
    # The native parser skips re-parsing chunks whose bytes around the varying string
    # match a layout it has seen; this drives that path with hostile strings, and with a
    # chunk that keeps the layout's ends but is not one string in the middle.
    head = '{"id":"r","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":'
    tail = '},"finish_reason":null}]}'
    events = [head + json.dumps(t) + tail for t in texts]
    if tamper < len(events):
        events.insert(tamper, head + '"x","reasoning":"y"' + tail)
    first = {"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}
    events.append(json.dumps({"choices": [{"delta": {"tool_calls": [first]}}]}))
    tool_head = '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":'
    tool_tail = "}}]}}]}"
    events += [tool_head + json.dumps(a) + tool_tail for a in args]
    events.append('{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}')
    body = b"".join(b"data: " + e.encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    pure, native = both(body, cuts)
    assert native == pure


def test_empty_data_lines_are_bounded_alike() -> None:
    body = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n' + b"data\n" * 200 + b"\n"
    pure, native = both(body, [], max_line=100)
    assert native == pure
    assert pure[-1].message.error_message == "SSE event data longer than 100 bytes"
    assert pure[-1].message.text == "x"
