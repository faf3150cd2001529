"""``<think>…</think>`` in the text read as thinking (``Model.think_tags``), with tags
split across chunks, the same on the pure and the native parser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import Model, TextContent, ThinkingContent
from tinyagent.transports import make_byte_parser

from ..transports.test_native_parity import run

MODEL = Model("qwen3", "http://127.0.0.1:1/v1", provider="vllm", think_tags=True)


def body(fragments: list[str]) -> bytes:
    chunks = [{"choices": [{"delta": {"content": f}}]} for f in fragments]
    chunks.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)


def both(fragments: list[str], model: Model = MODEL) -> tuple[list[Any], list[Any]]:
    data = body(fragments)
    return run(make_byte_parser(model), data, []), run(
        make_byte_parser(model, native=True), data, []
    )


def reference(text: str) -> list[tuple[bool, str]]:
    """The split of the whole text at once: what streaming must give, however cut."""
    out: list[tuple[bool, str]] = []
    thinking = False
    while text:
        tag = "</think>" if thinking else "<think>"
        i = text.find(tag)
        piece, text = (text, "") if i < 0 else (text[:i], text[i + len(tag) :])
        if piece:
            if out and out[-1][0] == thinking:
                out[-1] = (thinking, out[-1][1] + piece)
            else:
                out.append((thinking, piece))
        if i >= 0:
            thinking = not thinking
    return out


def blocks(events: list[Any]) -> list[tuple[bool, str]]:
    content = events[-1].message.content
    return [
        (isinstance(c, ThinkingContent), c.thinking if isinstance(c, ThinkingContent) else c.text)
        for c in content
    ]


@pytest.mark.parametrize(
    ("fragments", "expected"),
    [
        (
            ["<think>Let me see.</think>The answer."],
            [(True, "Let me see."), (False, "The answer.")],
        ),
        (["<thi", "nk>abc</th", "ink>def"], [(True, "abc"), (False, "def")]),
        (
            ["<", "t", "h", "i", "n", "k", ">", "x", "<", "/think", ">y"],
            [(True, "x"), (False, "y")],
        ),
        (["text <thi"], [(False, "text <thi")]),  # not a tag after all: kept at the end
        (["<think>never closed"], [(True, "never closed")]),
        (["a <b> <thinking> c"], [(False, "a <b> <thinking> c")]),
        (
            ["a<think>b</think>c<think>d</think>e"],
            [(False, "a"), (True, "b"), (False, "c"), (True, "d"), (False, "e")],
        ),
    ],
)
def test_tags_split_anywhere(fragments: list[str], expected: list[tuple[bool, str]]) -> None:
    pure, native = both(fragments)
    assert pure == native
    assert blocks(pure) == expected


def test_off_by_default() -> None:
    plain = Model("m", "http://127.0.0.1:1/v1")
    pure, native = both(["<think>x</think>y"], plain)
    assert pure == native and pure[-1].message.content == (TextContent("<think>x</think>y"),)


_piece = st.text(alphabet=st.sampled_from(list("<>/thinkabé😊 ")), max_size=6) | st.sampled_from(
    ["<think>", "</think>", "<th", "ink>", "</"]
)


@settings(max_examples=300, deadline=None)
@given(fragments=st.lists(_piece, min_size=1, max_size=12))
def test_streaming_split_equals_the_whole_text_split(fragments: list[str]) -> None:
    pure, native = both(fragments)
    assert pure == native
    assert blocks(pure) == reference("".join(fragments))
