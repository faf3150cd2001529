"""Building OpenAI Responses requests from our records: input items, tools, options,
reasoning replayed only to the model that produced it, and the history cache."""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

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
from tinyagent._util.json import dumps
from tinyagent.providers import prepare_request
from tinyagent.providers.openai_responses._parser import signature_payload
from tinyagent.providers.openai_responses._request import build_body
from tinyagent.wire import RequestCaches

GPT = Model(
    "gpt-x", "https://api.openai.com/v1", api="openai-responses", provider="openai", api_key="sk-1"
)
OTHER = attrs.evolve(GPT, id="gpt-y")
CLAUDE = Model("claude-x", "https://api.anthropic.com/v1", api="anthropic-messages")
TOOLS = [ToolDefinition("add", "Add.", {"type": "object", "properties": {"a": {"type": "number"}}})]

REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "Think."}],
    "encrypted_content": "gAAAA==",
}


def body_of(ctx: Context, model: Model = GPT, **options: Any) -> dict[str, Any]:
    return json.loads(prepare_request(model, ctx, StreamOptions(**options)).body)  # type: ignore[no-any-return]


def reply(
    *content: Any, model: Model = GPT, stop: StopReason = StopReason.TOOL_USE
) -> AssistantMessage:
    return AssistantMessage(
        content, stop, model=model.id, provider=model.provider_name, api=model.api
    )


def thinking(item: dict[str, Any], following: str | None) -> ThinkingContent:
    return ThinkingContent("Think.", signature_payload(item, following))


def test_body_headers_and_url() -> None:
    req = prepare_request(
        GPT,
        Context("Be brief.", [UserMessage("hi")], TOOLS),
        StreamOptions(max_tokens=99, temperature=0.2, session_id="s-1", reasoning_effort="low"),
    )
    assert req.url == "https://api.openai.com/v1/responses"
    assert req.headers["authorization"] == "Bearer sk-1"
    body = json.loads(req.body)
    assert body == {
        "input": [{"role": "user", "content": "hi"}],
        "model": "gpt-x",
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "instructions": "Be brief.",
        "tools": [
            {"type": "function", "name": "add", "description": "Add.",
             "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
             "strict": False}
        ],
        "reasoning": {"effort": "low", "summary": "auto"},
        "temperature": 0.2,
        "max_output_tokens": 99,
        "prompt_cache_key": "s-1",
    }  # fmt: skip


def test_a_tool_turn_replays_reasoning_with_the_following_items_id() -> None:
    calls = reply(
        thinking(REASONING, "fc_1"),
        ToolCall("call_1", "add", {"a": 1}),
    )
    ctx = Context(
        messages=[
            UserMessage("add"),
            calls,
            ToolResultMessage("call_1", "add", "1"),
        ]
    )
    items = body_of(ctx)["input"]
    assert items == [
        {"role": "user", "content": "add"},
        REASONING,
        {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "add",
         "arguments": '{"a":1}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "1"},
    ]  # fmt: skip
    # exactly as received: the item's bytes are in the body
    raw = prepare_request(GPT, ctx, StreamOptions()).body
    assert dumps(REASONING) in raw


def test_a_text_after_reasoning_is_a_full_message_item_with_its_id() -> None:
    ctx = Context(
        messages=[
            UserMessage("hi"),
            reply(thinking(REASONING, "msg_1"), TextContent("Hello"), stop=StopReason.STOP),
        ]
    )
    items = body_of(ctx)["input"]
    assert items[2] == {
        "id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
    }  # fmt: skip


def test_reasoning_goes_only_to_the_model_that_made_it() -> None:
    ctx = Context(
        messages=[
            UserMessage("hi"),
            reply(thinking(REASONING, "msg_1"), TextContent("Hello"), stop=StopReason.STOP),
        ]
    )
    for target in (OTHER, attrs.evolve(GPT, provider="openrouter")):
        items = body_of(ctx, target)["input"]
        assert items == [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello"},
        ]
    # Anthropic thinking is dropped here too (no signature it could read).
    foreign = reply(
        ThinkingContent("hmm", "sig"), TextContent("ok"), model=CLAUDE, stop=StopReason.STOP
    )
    items = body_of(Context(messages=[UserMessage("hi"), foreign]))["input"]
    assert items[1] == {"role": "assistant", "content": "ok"}


def test_reasoning_without_encrypted_content_is_not_replayed() -> None:
    bare = {"id": "rs_2", "type": "reasoning", "summary": []}
    ctx = Context(
        messages=[
            UserMessage("hi"),
            reply(thinking(bare, "msg_2"), TextContent("x"), stop=StopReason.STOP),
        ]
    )
    items = body_of(ctx)["input"]
    # With store=false an item without its content would be looked up by id, and fail.
    assert items[1] == {"role": "assistant", "content": "x"}


def test_opaque_items_go_back_to_their_model_only() -> None:
    search = {
        "id": "ws_1",
        "type": "web_search_call",
        "status": "completed",
        "action": {"query": "q"},
    }
    opaque = ThinkingContent("", signature_payload(search, None), redacted=True)
    ctx = Context(
        messages=[UserMessage("hi"), reply(opaque, TextContent("found"), stop=StopReason.STOP)]
    )
    assert body_of(ctx)["input"][1] == search
    assert body_of(ctx, OTHER)["input"][1] == {"role": "assistant", "content": "found"}


def test_an_aborted_reply_never_replays_half_a_call_or_its_reasoning() -> None:
    half = ToolCall("call_9", "add", {}, raw_arguments='{"a": ', arguments_error="cut")
    aborted = reply(
        thinking(REASONING, "fc_9"), TextContent("partial"), half, stop=StopReason.ABORTED
    )
    ctx = Context(
        messages=[
            UserMessage("go"),
            aborted,
            ToolResultMessage("call_9", "add", "aborted", is_error=True),
        ]
    )
    items = body_of(ctx)["input"]
    assert items == [{"role": "user", "content": "go"}, {"role": "assistant", "content": "partial"}]


def test_images_tool_choice_and_results() -> None:
    ctx = Context(
        messages=[
            UserMessage(
                [
                    TextContent("look"),
                    ImageContent("AAAA", "image/png"),
                    ImageContent(url="https://x/y.png"),
                ]
            ),
            reply(ToolCall("c1", "add", {})),
            ToolResultMessage(
                "c1", "add", [TextContent("see"), ImageContent("BBBB", "image/jpeg")]
            ),
            reply(ToolCall("c2", "add", {})),
            ToolResultMessage("c2", "add", ""),
        ]
    )
    body = body_of(ctx, tool_choice={"type": "function", "function": {"name": "add"}})
    assert body["input"][0]["content"] == [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
        {"type": "input_image", "image_url": "https://x/y.png"},
    ]
    assert body["input"][2]["output"] == [
        {"type": "input_text", "text": "see"},
        {"type": "input_image", "image_url": "data:image/jpeg;base64,BBBB"},
    ]
    assert body["input"][4]["output"] == "(no output)"
    assert body["tool_choice"] == {"type": "function", "name": "add"}
    assert body_of(ctx, tool_choice="any")["tool_choice"] == "required"
    assert body_of(ctx, tool_choice={"type": "tool", "name": "add"})["tool_choice"] == {
        "type": "function", "name": "add"
    }  # fmt: skip
    assert body_of(ctx, extra_body={"store": True})["store"] is True


# --- the history cache ------------------------------------------------------------


def _message(draw: st.DrawFn, i: int, out: list[Message]) -> Message:
    kind = draw(st.sampled_from(["user", "assistant", "result"]))
    if kind == "user":
        return UserMessage(draw(st.sampled_from(["", f"say {i}"])))
    if kind == "result":
        calls = [c for m in out if isinstance(m, AssistantMessage) for c in m.tool_calls]
        call = draw(st.sampled_from(calls)) if calls else ToolCall("gone", "add", {})
        return ToolResultMessage(call.id, call.name, f"result {i}")
    model = draw(st.sampled_from([GPT, OTHER, CLAUDE]))
    content: list[Any] = []
    if draw(st.booleans()):
        content.append(thinking({**REASONING, "id": f"rs_{i}"}, f"fc_{i}"))
    if draw(st.booleans()):
        content.append(TextContent(f"text {i}"))
    if draw(st.booleans()):
        valid = draw(st.booleans())
        content.append(
            ToolCall(f"call_{i}", "add", {"a": i})
            if valid
            else ToolCall(f"call_{i}", "add", {}, raw_arguments="{", arguments_error="cut")
        )
    stop = draw(st.sampled_from([StopReason.STOP, StopReason.TOOL_USE, StopReason.ABORTED]))
    return reply(*content, model=model, stop=stop)


@st.composite
def transcripts(draw: st.DrawFn) -> list[Message]:
    out: list[Message] = []
    for i in range(draw(st.integers(0, 12))):
        out.append(_message(draw, i, out))
    return out


@settings(max_examples=150, deadline=None)
@given(transcript=transcripts(), steps=st.lists(st.integers(0, 5), min_size=1, max_size=5),
       switch=st.integers(0, 6), prune=st.integers(0, 6))  # fmt: skip
def test_the_cached_body_is_the_body_built_from_scratch(
    transcript: list[Message], steps: list[int], switch: int, prune: int
) -> None:
    caches = RequestCaches()
    shown = 0
    for turn, step in enumerate(steps):
        shown = min(len(transcript), shown + step)
        messages = transcript[:shown] if turn != prune else transcript[2:shown]
        model = OTHER if turn >= switch else GPT
        ctx = Context("sys", messages, TOOLS)
        cached = prepare_request(model, ctx, StreamOptions(wire_cache=caches)).body
        fresh = build_body(model, ctx)
        assert cached.startswith(b'{"input":' + dumps(fresh["input"]) + b",")
        assert json.loads(cached) == fresh
