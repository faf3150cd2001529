"""The native parser's ``openai-responses`` mode and the pure parser give equal events
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
    api="openai-responses",
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
_small = st.integers(0, 100) | st.sampled_from([None, 1.5, "7", True, -3])
_id = st.sampled_from(["rs_1", "fc_2", "msg_3", "", "x"]) | st.none()
_item = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("message"), "id": _id, "role": st.just("assistant")},
        optional={"content": st.lists(_json_any, max_size=1)},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("function_call"),
            "id": _id,
            "call_id": st.sampled_from(["c0", "c1", ""]) | st.none(),
            "name": st.sampled_from(["f", ""]),
        },
        optional={"arguments": _text | st.just('{"a": 1}') | st.none()},
    ),
    st.fixed_dictionaries(
        {"type": st.just("reasoning"), "id": _id},
        optional={
            "summary": st.lists(
                st.fixed_dictionaries({"type": st.just("summary_text"), "text": _text}),
                max_size=2,
            ),
            "encrypted_content": _text | st.none(),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["web_search_call", "mcp_call", "", "x"]), "id": _id},
        optional={"action": _json_any, "n": st.integers(-3, 3) | st.floats(-2, 2, width=32)},
    ),
    _json_any,
)
_usage = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": _small,
        "output_tokens": _small,
        "input_tokens_details": st.fixed_dictionaries({}, optional={"cached_tokens": _small}),
        "output_tokens_details": st.fixed_dictionaries({}, optional={"reasoning_tokens": _small}),
    },
)
_response = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["resp_1", ""]) | st.none(),
        "status": st.sampled_from(["completed", "incomplete", "failed", "in_progress", ""]),
        "usage": _usage | st.none(),
        "incomplete_details": st.fixed_dictionaries(
            {}, optional={"reason": st.sampled_from(["max_output_tokens", "content_filter", ""])}
        )
        | st.none(),
        "error": st.fixed_dictionaries(
            {}, optional={"code": st.sampled_from(["server_error", "rate_limit_exceeded"]),
                          "message": _text}
        )
        | st.none(),
    },
)  # fmt: skip
_delta_kinds = st.sampled_from(
    [
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
    ]
)
_event = st.one_of(
    st.builds(
        lambda k, i, d: {"type": k, "output_index": i, "delta": d, "sequence_number": 7},
        _delta_kinds,
        _index,
        _text | st.none() | st.integers(0, 2),
    ),
    st.builds(
        lambda i, a: {
            "type": "response.function_call_arguments.done",
            "output_index": i,
            "arguments": a,
        },
        _index,
        _text | st.just('{"b": 2}') | st.none(),
    ),
    st.builds(
        lambda k, i, it: {"type": k, "output_index": i, "item": it},
        st.sampled_from(["response.output_item.added", "response.output_item.done"]),
        _index,
        _item,
    ),
    st.builds(
        lambda k, r: {"type": k, "response": r},
        st.sampled_from(
            [
                "response.created",
                "response.in_progress",
                "response.completed",
                "response.incomplete",
                "response.failed",
            ]
        ),
        _response | _json_any,
    ),
    st.builds(
        lambda e: {"type": "error", **e},
        st.fixed_dictionaries(
            {},
            optional={
                "error": st.fixed_dictionaries({"code": _text, "message": _text}),
                "message": _text,
                "code": _text,
            },
        ),
    ),
    st.builds(lambda x: {"type": x}, _json_any),
    st.dictionaries(st.sampled_from(["type", "output_index", "delta", "x"]), _json_any, max_size=3),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    parts = []
    events = draw(st.lists(_event, max_size=16))
    if draw(st.sampled_from([True, True, False])):
        events.append({"type": "response.completed", "response": {"status": "completed"}})
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


@settings(max_examples=400, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_native_and_pure_responses_parsers_agree(body: bytes, cuts: list[int]) -> None:
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
_seq = st.integers(0, 10**6).map(str) | st.sampled_from(["007", "-1", "1.5", '"3"', "1e3", "00"])
_pad = st.text(max_size=6).map(json.dumps) | st.sampled_from(['"\\ud800"', '"\\q"', "7", "null"])


@settings(max_examples=250, deadline=None)
@given(
    kinds=st.lists(
        st.sampled_from(["message", "function_call", "reasoning"]), min_size=1, max_size=3
    ),
    deltas=st.lists(st.tuples(_fragment, _seq, _pad), min_size=1, max_size=12),
    raw_delta=st.sampled_from(['"\\ud83d"', '"\\ude00 x"', "5", '"ok"']),
    tamper=st.integers(0, 30),
    done_at=st.integers(0, 30),
    cuts=st.lists(st.integers(0, 6000), max_size=6),
)
def test_masked_delta_layouts_take_the_same_path_on_both(
    kinds: list[str],
    deltas: list[tuple[str, str, str]],
    raw_delta: str,
    tamper: int,
    done_at: int,
    cuts: list[int],
) -> None:
    # The native parser skips re-parsing deltas whose bytes match a layout it has seen
    # with the sequence number and the obfuscation pad masked. Drive that path with
    # hostile strings, malformed masked values, a tampered layout, deltas after their
    # item ended, and items of every kind.
    delta_type = {
        "message": "response.output_text.delta",
        "function_call": "response.function_call_arguments.delta",
        "reasoning": "response.reasoning_summary_text.delta",
    }
    events: list[str] = [json.dumps({"type": "response.created", "response": {"id": "r"}})]
    for i, kind in enumerate(kinds):
        item: dict[str, Any] = {"id": f"it{i}", "type": kind}
        if kind == "function_call":
            item |= {"call_id": f"c{i}", "name": "f"}
        events.append(
            json.dumps({"type": "response.output_item.added", "output_index": i, "item": item})
        )
        for j, (text, seq, pad) in enumerate(deltas):
            n = len(events)
            if n == done_at:
                events.append(
                    json.dumps(
                        {"type": "response.output_item.done", "output_index": i, "item": item}
                    )
                )
            body = json.dumps(text) if n != tamper else raw_delta
            events.append(
                f'{{"type":"{delta_type[kind]}","sequence_number":{seq},"item_id":"it{i}",'
                f'"output_index":{i},"delta":{body},"obfuscation":{pad}}}'
                if j % 5 != 4
                else f'{{"type":"{delta_type[kind]}","output_index":{i},"delta":{body}}}'
            )
    events.append(json.dumps({"type": "response.completed", "response": {"status": "completed"}}))
    body = b"".join(b"data: " + e.encode() + b"\n\n" for e in events)
    pure, native = both(body, cuts)
    assert native == pure
