"""Building chat-completions requests from our records: every message kind, the body's
options, and the history cache that encodes each message once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinyagent import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    StopReason,
    StreamOptions,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from tinyagent.providers import prepare_request
from tinyagent.providers.openai_chat._request import (
    WireCache,
    build_body,
    build_body_bytes,
    encode_message,
)
from tinyagent.wire import RequestCaches

GPT = Model(
    "gpt-x",
    "https://api.example.com/v1/",
    api_key="sk-secret",
    headers={"x-team": "a"},
    max_tokens=512,
)
TOOLS = [ToolDefinition("add", "Add.", {"type": "object", "properties": {"a": {"type": "number"}}})]


def reply(*content: Any, stop: StopReason = StopReason.TOOL_USE) -> AssistantMessage:
    return AssistantMessage(content, stop, model="gpt-x")


def test_url_auth_and_headers() -> None:
    req = prepare_request(
        GPT, Context(messages=[UserMessage("hi")]), StreamOptions(headers={"x-run": "1"})
    )
    assert req.url == "https://api.example.com/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-secret"
    assert (req.headers["x-team"], req.headers["x-run"]) == ("a", "1")
    assert req.headers["accept"] == "text/event-stream"
    assert req.headers["content-type"] == "application/json"
    assert "sk-secret" not in repr(req)
    no_key = prepare_request(Model("m", "http://x/v1"), Context(), StreamOptions())
    assert "authorization" not in no_key.headers


def test_user_messages_text_and_images() -> None:
    assert encode_message(UserMessage("hi")) == [{"role": "user", "content": "hi"}]
    parts = encode_message(
        UserMessage(
            [
                TextContent("see"),
                ImageContent("QUJD", "image/jpeg"),
                ImageContent(url="https://x/i.png"),
            ]
        )
    )
    assert parts == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                {"type": "image_url", "image_url": {"url": "https://x/i.png"}},
            ],
        }
    ]


def test_assistant_messages_text_calls_and_what_is_left_out() -> None:
    call = ToolCall("c1", "add", {"a": 1, "é": "ü"})
    raw = ToolCall("c2", "add", {}, raw_arguments='{"a": ', arguments_error="bad")
    msg = reply(
        ThinkingContent("private", "SIG"), TextContent("Hi "), TextContent("there"), call, raw
    )
    (out,) = encode_message(msg)
    assert out == {
        "role": "assistant",
        "content": "Hi there",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a":1,"é":"ü"}'},
            },
            {"id": "c2", "type": "function", "function": {"name": "add", "arguments": '{"a": '}},
        ],
    }
    (only_calls,) = encode_message(reply(call))
    assert only_calls["content"] is None
    assert encode_message(reply(stop=StopReason.ABORTED)) == []  # empty: servers reject it
    assert "tool_calls" not in encode_message(reply(TextContent("x"), stop=StopReason.STOP))[0]


def test_tool_results_text_empty_and_images() -> None:
    assert encode_message(ToolResultMessage("c1", "add", "3")) == [
        {"role": "tool", "tool_call_id": "c1", "content": "3"}
    ]
    assert encode_message(ToolResultMessage("c1", "add", ""))[0]["content"] == "(no output)"
    img = encode_message(ToolResultMessage("c1", "shot", [ImageContent("R0hJ")]))
    assert img[0] == {"role": "tool", "tool_call_id": "c1", "content": "(see attached image)"}
    assert img[1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Image(s) from tool shot:"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,R0hJ"}},
        ],
    }


def test_body_options() -> None:
    ctx = Context("Be brief.", [UserMessage("hi")], TOOLS)
    body = build_body(
        GPT,
        ctx,
        temperature=0.5,
        reasoning_effort="low",
        tool_choice="required",
        extra_body={"seed": 7},
        session_id="s-1",
    )
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add.",
                "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
            },
        }
    ]
    assert (body["temperature"], body["reasoning_effort"], body["tool_choice"]) == (
        0.5,
        "low",
        "required",
    )
    assert body["max_tokens"] == 512 and body["seed"] == 7 and body["prompt_cache_key"] == "s-1"
    assert build_body(GPT, ctx, max_tokens=9)["max_tokens"] == 9
    bare = build_body(Model("m", "http://x/v1"), Context(messages=[UserMessage("hi")]))
    assert set(bare) == {"model", "messages", "stream", "stream_options"}


def test_the_history_cache_gives_the_same_bytes_and_notices_a_changed_prefix() -> None:
    history: list[Any] = [UserMessage("one"), reply(TextContent("two"), stop=StopReason.STOP)]
    cache = WireCache()
    for turn in range(3):
        history.append(UserMessage(f"more {turn}"))
        ctx = Context("S", history, TOOLS)
        assert json.loads(build_body_bytes(GPT, ctx, cache)) == json.loads(
            build_body_bytes(GPT, ctx)
        )
        assert build_body_bytes(GPT, ctx, cache) == build_body_bytes(GPT, ctx, cache)
    pruned = Context("S", history[2:], TOOLS)  # a transform_context hook cut the history
    assert json.loads(build_body_bytes(GPT, pruned, cache)) == build_body(GPT, pruned)
    empty = Context("", [], ())
    assert json.loads(build_body_bytes(GPT, empty, WireCache()))["messages"] == []


def test_request_caches_keep_one_cache_per_provider() -> None:
    caches = RequestCaches()
    ctx = Context(messages=[UserMessage("hi")])
    a = prepare_request(GPT, ctx, StreamOptions(wire_cache=caches))
    b = prepare_request(GPT, ctx, StreamOptions(wire_cache=caches))
    assert a.body == b.body
    assert json.loads(a.body) == json.loads(prepare_request(GPT, ctx, StreamOptions()).body)


def test_cache_markers_only_where_the_endpoint_takes_them() -> None:
    history: list[Any] = [
        UserMessage("one"),
        reply(TextContent("two"), stop=StopReason.STOP),
        UserMessage([TextContent("three"), ImageContent("QUJD")]),
    ]
    ctx = Context("System.", history, TOOLS)
    routed = Model("anthropic/claude-x", "https://openrouter.ai/api/v1")
    body = json.loads(prepare_request(routed, ctx, StreamOptions()).body)
    marks = [i for i, m in enumerate(body["messages"]) if "cache_control" in json.dumps(m)]
    assert marks == [0, 1, 3]  # system and the newest two user messages
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "System.", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"][3]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in json.dumps(body["messages"][3]["content"][0])
    long = json.loads(prepare_request(routed, ctx, StreamOptions(cache="long")).body)
    assert long["messages"][0]["content"][0]["cache_control"]["ttl"] == "1h"
    for plain in (
        prepare_request(routed, ctx, StreamOptions(cache="none")),
        prepare_request(GPT, ctx, StreamOptions()),
    ):
        assert b"cache_control" not in plain.body


def test_the_history_cache_encodes_each_message_once(monkeypatch: Any) -> None:
    from tinyagent.providers.openai_chat import _request as request

    encoded: list[Any] = []
    real = request.encode_message

    def counting(m: Any) -> Any:
        encoded.append(m)
        return real(m)

    monkeypatch.setattr(request, "encode_message", counting)
    cache = WireCache()
    history: list[Any] = [UserMessage("one")]
    cache.encode(history)
    history.append(reply(TextContent("two"), stop=StopReason.STOP))
    cache.encode(history)
    cache.encode(history)  # nothing new: nothing encoded
    assert encoded == history
    history.append(UserMessage("three"))
    joined = cache.encode(history)
    assert encoded == history and json.loads(b"[" + joined + b"]")[-1] == {
        "role": "user",
        "content": "three",
    }
    cache.encode(history[:1])  # a shorter history starts over
    assert encoded[-1] is history[0] and len(encoded) == 4
    swapped = [UserMessage("other"), *history[1:]]
    cache.encode(swapped)  # same length, another first message: starts over
    assert encoded[-3:] == swapped


def _parallel_results_with_an_image() -> list[Message]:
    calls = [ToolCall("c1", "shot", {}), ToolCall("c2", "read", {})]
    return [
        UserMessage("look"),
        AssistantMessage(tuple(calls), StopReason.TOOL_USE),
        ToolResultMessage("c1", "shot", [ImageContent("R0hJ", "image/png")]),
        ToolResultMessage("c2", "read", "text"),
    ]


@pytest.mark.parametrize("cached", [False, True])
def test_images_of_parallel_tool_results_follow_the_whole_run(cached: bool) -> None:
    """Every tool message follows the assistant's calls directly (OpenAI rejects a user
    message between them); the images come after the run, with or without the cache,
    and stay right when the transcript grows."""
    history = _parallel_results_with_an_image()
    caches = RequestCaches() if cached else None

    def roles(messages: list[Message]) -> list[str]:
        req = prepare_request(GPT, Context(messages=messages), StreamOptions(wire_cache=caches))
        return [m["role"] for m in json.loads(req.body)["messages"]]

    assert roles(history) == ["user", "assistant", "tool", "tool", "user"]
    grown = [*history, AssistantMessage((TextContent("seen"),), StopReason.STOP)]
    assert roles(grown) == ["user", "assistant", "tool", "tool", "user", "assistant"]
    assert roles([*grown, UserMessage("more")])[-2:] == ["assistant", "user"]
