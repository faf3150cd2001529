"""The native parser's ``bedrock-converse`` mode (the event-stream framing and the
format) and the pure one give equal events for the same bytes: the recorded bodies split
anywhere and with random corruptions, random event sequences and hostile shapes, random
bounds, arbitrary bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import DoneEvent, ErrorEvent, Model, ModelCost
from tinyagent.wire import EventStreamDecoder, encode_frame

from ..conftest import conformance_dir
from ..transports.test_native_parity import both_for

MODEL = Model(
    "m",
    "http://127.0.0.1:1/v1",
    api="bedrock-converse",
    provider="p",
    cost=ModelCost(1, 2, 0.5, 3),
)

RECORDED = [
    p.read_bytes()
    for p in sorted(conformance_dir().glob("*.bin"))
    if json.loads(p.with_name(p.name.replace(".bin", ".expected.json")).read_text())["http_status"]
    == 200
]

_text = st.text(max_size=8)
_json_any = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_index = st.integers(0, 3) | st.sampled_from([None, -1, 1.0, True, "0"])
_count = st.integers(0, 100) | st.sampled_from([None, 1.5, "7", True, -3, 2**63])
_delta = st.one_of(
    st.fixed_dictionaries({"text": _text | st.integers()}),
    st.fixed_dictionaries(
        {
            "reasoningContent": st.fixed_dictionaries(
                {},
                optional={
                    "text": _text,
                    "signature": st.sampled_from(["", "S"]),
                    "redactedContent": st.sampled_from(["", "UkVE"]),
                },
            )
        }
    ),
    st.fixed_dictionaries(
        {"toolUse": st.fixed_dictionaries({"input": _text | st.just('{"a":1}')})}
    ),
    st.fixed_dictionaries({"toolResult": _json_any}),
    _json_any,
)
_start = st.one_of(
    st.fixed_dictionaries(
        {
            "toolUse": st.fixed_dictionaries(
                {
                    "toolUseId": st.sampled_from(["t0", "t1", ""]),
                    "name": st.sampled_from(["f", ""]),
                },
                optional={"type": st.sampled_from(["tool_use", "server_tool_use"])},
            )
        }
    ),
    st.fixed_dictionaries({"toolResult": st.just({"toolUseId": "t0"})}),
    _json_any,
)
_event = st.one_of(
    st.tuples(st.just("messageStart"), st.just({"role": "assistant"})),
    st.tuples(
        st.just("contentBlockStart"),
        st.fixed_dictionaries({"contentBlockIndex": _index, "start": _start}),
    ),
    st.tuples(
        st.just("contentBlockDelta"),
        st.fixed_dictionaries({"contentBlockIndex": _index, "delta": _delta}),
    ),
    st.tuples(st.just("contentBlockStop"), st.fixed_dictionaries({"contentBlockIndex": _index})),
    st.tuples(
        st.just("messageStop"),
        st.fixed_dictionaries(
            {
                "stopReason": st.sampled_from(
                    ["end_turn", "tool_use", "max_tokens", "content_filtered", "new"]
                )
            }
        ),
    ),
    st.tuples(
        st.just("metadata"),
        st.fixed_dictionaries(
            {
                "usage": st.fixed_dictionaries(
                    {},
                    optional={
                        "inputTokens": _count,
                        "outputTokens": _count,
                        "cacheReadInputTokens": _count,
                        "cacheWriteInputTokens": _count,
                    },
                )
            }
        ),
    ),
    st.tuples(
        st.sampled_from(["throttlingException", "modelStreamErrorException"]),
        st.builds(lambda m: {"message": m}, _text),
    ),
    st.tuples(st.sampled_from(["newEvent", "a b", ""]), _json_any),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    frames = []
    events = draw(st.lists(_event, max_size=12))
    if draw(st.booleans()):
        events += [("messageStop", {"stopReason": "end_turn"}), ("metadata", {"usage": {}})]
    for kind, member in events:
        exception = kind.endswith("Exception")
        headers = {
            (":exception-type" if exception else ":event-type"): kind,
            ":content-type": "application/json",
            ":message-type": "exception" if exception else "event",
        }
        if draw(st.sampled_from([False] * 20 + [True])):
            headers.pop(":event-type", None)  # a frame with no type: skipped
        hostile = draw(st.sampled_from([False] * 20 + [True]))
        payload = draw(st.binary(max_size=6)) if hostile else json.dumps(member).encode()
        frames.append(encode_frame(headers, payload))
    return b"".join(frames)


def corrupt(body: bytes, at: int, bit: int) -> bytes:
    if not body:
        return body
    i = at % len(body)
    return body[:i] + bytes([body[i] ^ (1 << bit)]) + body[i + 1 :]


def both(
    body: bytes, cuts: list[int], max_line: int = 1 << 20, max_args: int = 1 << 20
) -> tuple[list[Any], list[Any]]:
    return both_for(MODEL, body, cuts, max_line, max_args)


def test_there_are_recorded_bodies_and_the_decoder_reads_them_a_byte_at_a_time() -> None:
    assert len(RECORDED) >= 7
    for body in RECORDED:
        whole = EventStreamDecoder(1 << 20).feed_data(body)
        decoder = EventStreamDecoder(1 << 20)
        bytewise = [p for i in range(len(body)) for p in decoder.feed_data(body[i : i + 1])]
        assert bytewise == whole and whole and not decoder.has_partial


@settings(max_examples=100, deadline=None)
@given(
    which=st.integers(0, 1000),
    cuts=st.lists(st.integers(0, 20000), max_size=12),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), max_size=2),
)
def test_the_recorded_bodies_split_and_corrupted_agree(
    which: int, cuts: list[int], flips: list[tuple[int, int]]
) -> None:
    body = RECORDED[which % len(RECORDED)]
    flipped = {(at % len(body), bit) for at, bit in flips}  # two equal flips would cancel
    for at, bit in flipped:
        body = corrupt(body, at, bit)
    pure, native = both(body, cuts)
    assert native == pure
    assert isinstance(pure[-1], DoneEvent | ErrorEvent)
    if flipped:  # a flipped bit is never read as a clean stream
        assert isinstance(pure[-1], ErrorEvent)


@settings(max_examples=300, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_native_and_pure_bedrock_parsers_agree(body: bytes, cuts: list[int]) -> None:
    pure, native = both(body, cuts)
    assert native == pure
    assert isinstance(pure[-1], ErrorEvent | DoneEvent)


@settings(max_examples=150, deadline=None)
@given(
    body=bodies(),
    cuts=st.lists(st.integers(0, 4000), max_size=4),
    max_line=st.integers(8, 200),
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
