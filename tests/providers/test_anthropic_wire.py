"""The Anthropic history cache gives, request after request, the body built from
scratch (its messages byte for byte): however the transcript grows, merges, is marked for caching,
is pruned, or moves to another model."""

from __future__ import annotations

import json

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent import (
    AssistantMessage,
    Context,
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
from tinyagent.providers.anthropic._request import build_body
from tinyagent.wire import RequestCaches

CLAUDE = Model("claude-x", "https://api.anthropic.com/v1", api="anthropic-messages")
OTHER = attrs.evolve(CLAUDE, id="claude-y")
TOOLS = [ToolDefinition("add", "Add.", {"type": "object"})]


def _assistant(draw: st.DrawFn, i: int) -> AssistantMessage:
    model = draw(st.sampled_from([CLAUDE, OTHER]))
    content: list[object] = []
    if draw(st.booleans()):
        content.append(ThinkingContent(f"hmm {i}", signature=f"sig{i}"))
    content.append(TextContent(draw(st.sampled_from(["", f"text {i}"]))))
    calls = draw(st.integers(0, 2))
    content += [ToolCall(f"call_{i}_{j}", "add", {"a": j}) for j in range(calls)]
    stop = draw(st.sampled_from([StopReason.STOP, StopReason.TOOL_USE, StopReason.ABORTED]))
    return AssistantMessage(
        tuple(content),
        stop,
        model=model.id,
        provider=model.provider_name,
        api=model.api,  # type: ignore[arg-type]
    )


@st.composite
def transcripts(draw: st.DrawFn) -> list[Message]:
    out: list[Message] = []
    for i in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["user", "assistant", "result", "result"]))
        if kind == "user":
            out.append(UserMessage(draw(st.sampled_from(["", f"say {i}"]))))
        elif kind == "assistant":
            out.append(_assistant(draw, i))
        else:
            calls = [c for m in out if isinstance(m, AssistantMessage) for c in m.tool_calls]
            call = draw(st.sampled_from(calls)) if calls else ToolCall("gone", "add", {})
            out.append(ToolResultMessage(call.id, call.name, f"result {i}"))
    return out


@settings(max_examples=200, deadline=None)
@given(
    transcript=transcripts(),
    steps=st.lists(st.integers(0, 5), min_size=1, max_size=6),
    cache=st.sampled_from([None, "auto", "none", "long"]),
    system=st.sampled_from(["", "Be brief."]),
    switch=st.integers(0, 8),
    prune=st.integers(0, 8),
)
def test_the_cached_body_is_the_body_built_from_scratch(
    transcript: list[Message],
    steps: list[int],
    cache: str | None,
    system: str,
    switch: int,
    prune: int,
) -> None:
    caches = RequestCaches()
    shown = 0
    for turn, step in enumerate(steps):
        shown = min(len(transcript), shown + step)
        messages = transcript[:shown]
        if turn == prune:  # a transform_context hook dropped the oldest messages
            messages = messages[2:]
        model = OTHER if turn >= switch else CLAUDE
        ctx = Context(system, messages, TOOLS)
        options = StreamOptions(cache=cache, wire_cache=caches)  # type: ignore[arg-type]
        cached = prepare_request(model, ctx, options).body
        fresh = build_body(model, ctx, cache=cache)  # type: ignore[arg-type]
        # The messages byte for byte (what a prompt cache keys on), and the same body.
        assert cached.startswith(b'{"messages":' + dumps(fresh["messages"]) + b",")
        assert json.loads(cached) == fresh


def test_a_long_history_is_encoded_once() -> None:
    calls = 0
    import tinyagent.providers.anthropic._wire as wire

    real = wire.append_message

    def counting(*args: object) -> None:
        nonlocal calls
        calls += 1
        real(*args)  # type: ignore[arg-type]

    wire.append_message = counting  # type: ignore[assignment]
    try:
        caches = RequestCaches()
        history: list[Message] = []
        for i in range(50):
            history.append(UserMessage(f"q{i}"))
            history.append(AssistantMessage((TextContent(f"a{i}"),), StopReason.STOP))
            prepare_request(CLAUDE, Context("", list(history)), StreamOptions(wire_cache=caches))
        assert calls == 100, "each message converted once, not once per request"
    finally:
        wire.append_message = real  # type: ignore[assignment]
