"""Hostile replies meet documented rules, the same on every transport and backend:

- a lone surrogate escape decodes as U+FFFD (a pair split across two chunks gives two);
- a payload nested more than 1024 levels deep is a malformed chunk;
- tool arguments nested more than 128 levels deep are an error result for the model;
- any other exception while reading a reply ends it as an error that names it;
- whatever arrived, the transcript can always be encoded into the next request.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyagent
from tinyagent import (
    Agent,
    AssistantMessage,
    Context,
    FailureKind,
    Model,
    StopReason,
    StreamOptions,
    TextContent,
    Tool,
    ToolResult,
    ToolResultMessage,
    UserMessage,
)
from tinyagent.providers import OpenAIChatProvider, _registry, prepare_request, register_provider
from tinyagent.testing import (
    LocalServer,
    ToolCallSpec,
    anthropic_events_reply,
    chunk,
    chunks_reply,
    text_reply,
    tool_call_reply,
)
from tinyagent.transports import make_byte_parser

pytestmark = pytest.mark.anyio

CTX = Context(messages=[UserMessage("hi")])


def seen_args() -> tuple[Tool, list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    async def echo(call_id: str, args: dict[str, Any], update: Any) -> ToolResult:
        calls.append(args)
        return ToolResult("ok")

    return Tool("echo", "Echo.", {"type": "object"}, echo), calls


# --- end to end, on every transport and both backends ---------------------------------


async def test_arguments_nested_too_deep_are_an_error_result(transport: str) -> None:
    deep = "[" * 1000 + "]" * 1000
    replies = [tool_call_reply([ToolCallSpec("echo", '{"a": ' + deep + "}")]), text_reply("ok")]
    tool, calls = seen_args()
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[tool], stream_options={"transport": transport})
        new = await agent.prompt("go")
    call = new[1].tool_calls[0]
    assert call.arguments == {} and call.raw_arguments is not None
    assert call.arguments_error == "arguments are nested more than 128 levels deep"
    (result,) = [m for m in new if isinstance(m, ToolResultMessage)]
    assert result.is_error and "nested more than 128 levels deep" in result.text
    assert calls == [], "the tool never ran"
    assert new[-1].text == "ok"


async def test_arguments_at_the_depth_limit_reach_the_tool(transport: str) -> None:
    inner = "[" * 127 + "]" * 127  # 128 levels with the object around it
    tool, calls = seen_args()
    replies = [tool_call_reply([ToolCallSpec("echo", '{"a": ' + inner + "}")]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[tool], stream_options={"transport": transport})
        await agent.prompt("go")
        assert len(calls) == 1
        # and it is sent back intact in the next request
        sent = server.requests[1].json["messages"][1]["tool_calls"][0]["function"]["arguments"]
        assert json.loads(sent) == calls[0]


async def test_a_surrogate_pair_split_across_chunks(transport: str) -> None:
    reply = chunks_reply(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "A \ud83d"}),  # json.dumps writes the lone half as an escape
            chunk({"content": "\ude00 B"}),
            chunk({}, finish_reason="stop"),
        ]
    )
    async with LocalServer([reply, text_reply("next")]) as server:
        agent = Agent(server.model(), stream_options={"transport": transport})
        new = await agent.prompt("hi")
        assert new[-1].text == "A \ufffd\ufffd B" and new[-1].stop_reason is StopReason.STOP
        assert await agent.prompt_text("again") == "next"  # the transcript encodes
        assert server.requests[1].json["messages"][1]["content"] == "A \ufffd\ufffd B"


async def test_a_lone_surrogate_in_arguments_reaches_the_tool_replaced(transport: str) -> None:
    tool, calls = seen_args()
    replies = [
        tool_call_reply([ToolCallSpec("echo", '{"a": "x\\ud800y", "\\udc00": 1}')]),
        text_reply("ok"),
        text_reply("again"),
    ]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[tool], stream_options={"transport": transport})
        await agent.prompt("go")
        assert calls == [{"a": "x\ufffdy", "\ufffd": 1}]
        assert await agent.prompt_text("more") == "again"


async def test_a_tool_returning_a_lone_surrogate_does_not_poison_the_agent(
    transport: str,
) -> None:
    async def bad(call_id: str, args: dict[str, Any], update: Any) -> str:
        return "half \ud800 an emoji"

    tool = Tool("bad", "Bad.", {"type": "object"}, bad)
    replies = [tool_call_reply([ToolCallSpec("bad", {})]), text_reply("ok"), text_reply("2")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[tool], stream_options={"transport": transport})
        assert await agent.prompt_text("go") == "ok"
        assert await agent.prompt_text("again") == "2"
        sent = server.requests[1].json["messages"][2]
        assert sent["role"] == "tool" and sent["content"] == "half \ufffd an emoji"


def _deep_chunk(depth: int, where: str) -> bytes:
    deep = "[" * depth + "]" * depth
    if where == "usage":
        return (
            b'{"id":"r","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],'
            b'"usage":{"prompt_tokens":3,"completion_tokens":1,"x":' + deep.encode() + b"}}"
        )
    return (
        b'{"id":"r","choices":[{"index":0,"delta":{"content":"hi"}}],"junk":' + deep.encode() + b"}"
    )


async def test_a_chunk_nested_past_the_limit_is_malformed(transport: str) -> None:
    async with LocalServer([chunks_reply([_deep_chunk(1025, "junk").decode()])]) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert message.stop_reason is StopReason.ERROR
    assert message.error_message is not None
    assert message.error_message.startswith(
        "malformed JSON chunk in stream (nested more than 1024 levels deep)"
    )
    assert message.failure is not None and message.failure.kind is FailureKind.MALFORMED_STREAM


async def test_deep_values_within_the_limit_parse_alike(transport: str) -> None:
    payload = _deep_chunk(1000, "usage").decode()
    async with LocalServer([chunks_reply([payload])]) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert message.text == "hi" and message.usage.input == 3, "usage is kept, not dropped"


async def test_an_anthropic_tool_input_too_deep_is_an_error_result(transport: str) -> None:
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    events = [
        ("message_start", {"message": {"id": "m", "usage": {"input_tokens": 1}}}),
        (
            "content_block_start",
            {
                "index": 0,
                "content_block": {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "echo",
                    "input": {"a": deep},
                },
            },
        ),
        ("content_block_stop", {"index": 0}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 1}}),
        ("message_stop", {}),
    ]
    reply = anthropic_events_reply([{"type": name, **data} for name, data in events])
    async with LocalServer([reply]) as server:
        model = server.model(api="anthropic-messages")
        message = await tinyagent.complete(model, CTX, transport=transport)
    (call,) = message.tool_calls
    assert call.arguments == {}
    assert call.arguments_error == "arguments are nested more than 128 levels deep"


class CrashingProvider(OpenAIChatProvider):
    """A provider whose own code raises while a reply is read."""

    api = "crashing-chat"

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> Any:
        raise KeyError(f"no verdict for {reason!r}")


@pytest.fixture
def crashing() -> Iterator[None]:
    register_provider(CrashingProvider())
    yield
    _registry._PROVIDERS.pop("crashing-chat", None)


@pytest.mark.usefixtures("crashing")
async def test_an_exception_while_reading_is_an_error_reply(transport: str) -> None:
    async with LocalServer([text_reply("partial text"), text_reply("x")]) as server:
        model = server.model(api="crashing-chat")  # type: ignore[arg-type]
        message = await tinyagent.complete(model, CTX, transport=transport)
        agent = Agent(model, stream_options={"transport": transport})
        new = await agent.prompt("hi")  # does not raise either
    assert message.stop_reason is StopReason.ERROR
    assert message.error_message == "reading the reply failed: KeyError: \"no verdict for 'stop'\""
    assert message.failure is not None and message.failure.kind is FailureKind.UNKNOWN
    assert message.failure.code == "internal_error"
    assert message.text == "partial text", "what arrived is kept"
    assert new[-1].error_message == message.error_message


# --- the property: arbitrary escaped strings and nesting, split anywhere --------------

MODEL = Model("m", "http://127.0.0.1:1/v1", provider="p")
ANTHROPIC = attrs.evolve(MODEL, api="anthropic-messages")

# UTF-16 code units, surrogates included, so that a pair can be cut between two chunks.
_units = st.lists(
    st.one_of(
        st.integers(0x20, 0x7E),
        st.integers(0xD800, 0xDFFF),
        st.sampled_from([0x0A, 0x22, 0x5C, 0xE9, 0x4E2D, 0xFFFD, 0xD83D, 0xDE00]),
    ),
    max_size=24,
)


def _pieces(units: list[int], cuts: list[int]) -> list[str]:
    raw = b"".join(u.to_bytes(2, "little") for u in units)
    bounds = sorted({0, len(units), *(c % (len(units) + 1) for c in cuts)})
    return [
        raw[2 * a : 2 * b].decode("utf-16-le", "surrogatepass")
        for a, b in itertools.pairwise(bounds)
    ]


@st.composite
def _arguments(draw: st.DrawFn) -> str:
    depth = draw(st.sampled_from([0, 1, 5, 127, 128, 129, 400, 1100]))
    leaf = draw(st.lists(st.integers(0xD7F0, 0xE010), max_size=4))
    text = json.dumps(
        b"".join(u.to_bytes(2, "little") for u in leaf).decode("utf-16-le", "surrogatepass")
    )
    value = "[" * depth + text + "]" * depth
    return '{"a": ' + value + "}" if draw(st.booleans()) else value


def _chat_body(pieces: list[str], args: list[str]) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    chunks += [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                **(
                                    {"id": "c1", "function": {"name": "f", "arguments": a}}
                                    if i == 0
                                    else {"function": {"arguments": a}}
                                ),
                            }
                        ]
                    },
                }
            ]
        }
        for i, a in enumerate(args)
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)


def _anthropic_body(pieces: list[str], args: list[str]) -> bytes:
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": {"id": "m", "usage": {"input_tokens": 1}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        *[
            ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
            for p in pieces
        ],
        ("content_block_stop", {"index": 0}),
        (
            "content_block_start",
            {
                "index": 1,
                "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            },
        ),
        *[
            (
                "content_block_delta",
                {"index": 1, "delta": {"type": "input_json_delta", "partial_json": a}},
            )
            for a in args
        ],
        ("content_block_stop", {"index": 1}),
        ("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}),
        ("message_stop", {}),
    ]
    return b"".join(
        f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()
        for name, data in events
    )


def _final(parser: Any, body: bytes, cuts: list[int]) -> AssistantMessage:
    last = 0
    for c in sorted(c % (len(body) + 1) for c in cuts):
        parser.feed(body[last:c])
        last = max(last, c)
    parser.feed(body[last:])
    if parser.message is None:
        parser.end_of_stream()
    message: AssistantMessage = parser.message
    return attrs.evolve(message, timestamp=0.0)


_LONE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_lone_surrogate(v) for v in value)
    return False


@settings(max_examples=150, deadline=None)
@given(
    units=_units,
    text_cuts=st.lists(st.integers(0, 30), max_size=4),
    args=_arguments(),
    arg_cuts=st.lists(st.integers(0, 3000), max_size=4),
    byte_cuts=st.lists(st.integers(0, 20000), max_size=6),
    anthropic=st.booleans(),
)
def test_escaped_strings_and_nesting_agree_and_always_encode(
    units: list[int],
    text_cuts: list[int],
    args: str,
    arg_cuts: list[int],
    byte_cuts: list[int],
    anthropic: bool,
) -> None:
    pieces = _pieces(units, text_cuts)
    bounds = sorted({0, len(args), *(c % (len(args) + 1) for c in arg_cuts)})
    arg_pieces = [args[a:b] for a, b in itertools.pairwise(bounds)] or [""]
    model = ANTHROPIC if anthropic else MODEL
    body = (_anthropic_body if anthropic else _chat_body)(pieces, arg_pieces)
    pure = _final(make_byte_parser(model), body, byte_cuts)
    native = _final(make_byte_parser(model, native=True), body, byte_cuts)
    assert pure == native
    assert pure.stop_reason is not StopReason.ERROR, pure.error_message
    # Each chunk's string is decoded alone: a lone half, even one whose other half is in
    # the next chunk, is U+FFFD.
    assert pure.text == "".join(_LONE.sub("\ufffd", p) for p in pieces)
    for call in pure.tool_calls:
        assert not _has_lone_surrogate(call.arguments)
        assert (
            (call.arguments_error is None)
            or "nested" in call.arguments_error
            or ("must be a JSON object" in call.arguments_error)
        )
    assert not _has_lone_surrogate(pure.text)
    # The transcript can always be sent again, to either provider.
    history = Context(messages=[UserMessage("hi"), pure])
    for target in (MODEL, ANTHROPIC):
        request = prepare_request(target, history, StreamOptions())
        json.loads(request.body.decode("utf-8"))


def test_a_chunk_far_past_the_limit_is_worded_alike() -> None:
    body = b"data: " + _deep_chunk(20000, "junk") + b"\n\n"
    pure = _final(make_byte_parser(MODEL), body, [])
    native = _final(make_byte_parser(MODEL, native=True), body, [])
    assert pure == native and pure.stop_reason is StopReason.ERROR
    assert "nested more than 1024 levels deep" in (pure.error_message or "")


def _strange(kind: str) -> Any:
    if kind == "bad part":
        return ToolResult([42])  # raises TypeError inside the tool: its error result
    return {"int": 42, "none": None, "bytes": b"x", "dict": {"a": 1}}[kind]


@pytest.mark.parametrize("kind", ["bad part", "int", "none", "bytes", "dict"])
async def test_a_strange_tool_return_is_an_error_result(kind: str, transport: str) -> None:
    async def strange(call_id: str, args: dict[str, Any], update: Any) -> Any:
        return _strange(kind)

    tool = Tool("strange", "Strange.", {"type": "object"}, strange)
    replies = [tool_call_reply([ToolCallSpec("strange", {})]), text_reply("ok")]
    async with LocalServer(replies) as server:
        agent = Agent(server.model(), tools=[tool], stream_options={"transport": transport})
        new = await agent.prompt("go")
    (result,) = [m for m in new if isinstance(m, ToolResultMessage)]
    assert result.is_error
    expected = (
        "ToolResult content parts must be TextContent, ImageContent, str, or a dict "
        "{'type': 'text', 'text': ...} or {'type': 'image', 'data'|'url': ...}, got int: 42"
        if kind == "bad part"
        else "not a ToolResult or str"
    )
    assert expected in result.text
    assert new[-1].text == "ok", "the run goes on"


def test_tool_result_content_parts() -> None:
    assert ToolResult(["a", TextContent("b")]).text == "ab"
    with pytest.raises(TypeError, match="must be a str or a sequence"):
        ToolResult(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got NoneType"):
        ToolResult(["a", None])  # type: ignore[list-item]
