"""The native parser's ``google-gemini`` mode and the pure parser give equal events for
the same bytes: the recorded streams split at random points, random chunk sequences,
hostile shapes, random bounds and arbitrary bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import DoneEvent, ErrorEvent, Model, ModelCost

from ..conftest import conformance_dir
from ..transports.test_native_parity import both_for

MODEL = Model(
    "m",
    "http://127.0.0.1:1/v1",
    api="google-gemini",
    provider="p",
    cost=ModelCost(1, 2, 0.5, 3),
)

RECORDED = [
    p.read_bytes()
    for p in sorted(conformance_dir().glob("*.sse"))
    if json.loads(p.with_name(p.name.replace(".sse", ".expected.json")).read_text())["format"]
    == "google-gemini"
]

_text = st.text(max_size=8)
_json_any = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_sig = st.sampled_from(["", "S1", "S2"]) | st.none() | st.integers(0, 2)
_count = st.integers(0, 100) | st.sampled_from([None, 1.5, "7", True, -3, 2**63, 2**63 - 1])
_part = st.one_of(
    st.fixed_dictionaries({"text": _text}, optional={"thoughtSignature": _sig}),
    st.fixed_dictionaries(
        {"text": _text, "thought": st.sampled_from([True, False, "true", None])},
        optional={"thoughtSignature": _sig},
    ),
    st.fixed_dictionaries(
        {
            "functionCall": st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["f", "g", ""]) | st.none(),
                    "id": st.sampled_from(["c1", ""]) | st.none(),
                    "args": st.none()
                    | st.dictionaries(st.sampled_from("ab"), st.integers(-3, 3) | _text, max_size=2)
                    | _json_any,
                },
            )
            | _json_any
        },
        optional={"thoughtSignature": _sig},
    ),
    st.fixed_dictionaries(
        {"executableCode": st.just({"code": "1"})}, optional={"thoughtSignature": _sig}
    ),
    _json_any,
)
_usage = st.fixed_dictionaries(
    {},
    optional={
        "promptTokenCount": _count,
        "cachedContentTokenCount": _count,
        "candidatesTokenCount": _count,
        "thoughtsTokenCount": _count,
    },
)
_candidate = st.fixed_dictionaries(
    {},
    optional={
        "content": st.fixed_dictionaries(
            {}, optional={"parts": st.lists(_part, max_size=3) | _json_any}
        ),
        "finishReason": st.sampled_from(
            ["STOP", "MAX_TOKENS", "SAFETY", "MALFORMED_FUNCTION_CALL", "", "NEW"]
        )
        | st.none(),
    },
)
_chunk = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "candidates": st.lists(_candidate | _json_any, max_size=2) | _json_any,
            "usageMetadata": _usage | _json_any,
            "responseId": st.sampled_from(["r1", "r2"]) | st.none(),
        },
    ),
    st.builds(lambda m: {"error": {"code": 500, "message": m}}, _text),
    st.just({"error": None}),
    _json_any,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    parts = []
    for c in draw(st.lists(_chunk, max_size=8)):
        hostile = draw(st.sampled_from([False] * 30 + [True]))
        data: bytes = draw(st.binary(max_size=5)) if hostile else json.dumps(c).encode()
        parts.append(b"data: " + data.replace(b"\n", b"").replace(b"\r", b"") + eol + eol)
    if draw(st.sampled_from([False] * 5 + [True])):
        parts.append(b'data: {"candidates"')  # truncated at the end
    return b"".join(parts)


def both(
    body: bytes, cuts: list[int], max_line: int = 1 << 20, max_args: int = 1 << 20
) -> tuple[list[Any], list[Any]]:
    return both_for(MODEL, body, cuts, max_line, max_args)


def test_there_are_recorded_streams() -> None:
    assert len(RECORDED) >= 12


@settings(max_examples=100, deadline=None)
@given(which=st.integers(0, 1000), cuts=st.lists(st.integers(0, 20000), max_size=12))
def test_the_recorded_streams_split_anywhere_agree(which: int, cuts: list[int]) -> None:
    pure, native = both(RECORDED[which % len(RECORDED)], cuts)
    assert native == pure
    assert isinstance(pure[-1], DoneEvent | ErrorEvent)


@settings(max_examples=300, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_native_and_pure_gemini_parsers_agree(body: bytes, cuts: list[int]) -> None:
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
