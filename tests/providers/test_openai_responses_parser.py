"""Responses replies end the way the wire says, on every transport: stop reasons,
usage, errors after the stream started, and a body cut short."""

from __future__ import annotations

import pytest

import tinyagent
from tinyagent import Context, FailureKind, StopReason, UserMessage
from tinyagent.testing import (
    LocalServer,
    ToolCallSpec,
    responses_error_reply,
    responses_events_reply,
    responses_text_reply,
    responses_tool_call_reply,
)

pytestmark = pytest.mark.anyio
CTX = Context(messages=[UserMessage("hi")])


async def complete(reply: object, transport: str) -> tinyagent.AssistantMessage:
    async with LocalServer([reply]) as server:  # type: ignore[list-item]
        model = server.model(api="openai-responses")
        return await tinyagent.complete(model, CTX, transport=transport, max_retries=0)


async def test_text_with_reasoning_and_cached_usage(transport: str) -> None:
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 60},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 12},
    }
    m = await complete(
        responses_text_reply("Hello there", reasoning="Greet.", usage=usage), transport
    )
    assert m.text == "Hello there" and m.thinking == "Greet."
    assert m.stop_reason is StopReason.STOP and m.provider_stop_reason == "completed"
    u = m.usage
    assert (u.input, u.output, u.cache_read, u.cache_write, u.reasoning) == (40, 20, 60, 0, 12)
    assert m.response_id == "resp_mock" and m.api == "openai-responses"


async def test_calls_end_as_tool_use_with_the_final_arguments(transport: str) -> None:
    reply = responses_tool_call_reply([ToolCallSpec("add", {"a": 1, "b": 2}, id="c1")])
    m = await complete(reply, transport)
    assert m.stop_reason is StopReason.TOOL_USE
    (call,) = m.tool_calls
    assert (call.id, call.name, call.arguments) == ("c1", "add", {"a": 1, "b": 2})


async def test_the_restated_arguments_win_over_the_fragments(transport: str) -> None:
    item = {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f"}
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "arguments": ""}},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"a": 1'},
        {"type": "response.function_call_arguments.done", "output_index": 0,
         "arguments": '{"a": 2}'},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"status": "completed"}},
    ]  # fmt: skip
    m = await complete(responses_events_reply(events), transport)
    assert m.tool_calls[0].arguments == {"a": 2}


@pytest.mark.parametrize(
    ("reason", "stop", "kind"),
    [
        ("max_output_tokens", StopReason.LENGTH, None),
        ("content_filter", StopReason.ERROR, FailureKind.CONTENT_FILTER),
    ],
)
async def test_incomplete_replies(
    reason: str, stop: StopReason, kind: FailureKind | None, transport: str
) -> None:
    m = await complete(responses_text_reply("Partial", incomplete=reason), transport)
    assert m.text == "Partial" and m.stop_reason is stop
    assert m.provider_stop_reason == reason
    assert (m.failure.kind if m.failure else None) is kind


async def test_an_error_after_the_start_keeps_what_came(transport: str) -> None:
    m = await complete(
        responses_error_reply("The server had an error.", code="server_error"), transport
    )
    assert m.stop_reason is StopReason.ERROR
    assert m.error_message == "The server had an error."
    assert m.provider_stop_reason == "failed"
    assert m.failure is not None and m.failure.kind is FailureKind.SERVER


async def test_a_body_cut_short_is_truncated(transport: str) -> None:
    reply = responses_text_reply("Hello there").but(disconnect_after=4)
    m = await complete(reply, transport)
    assert m.stop_reason is StopReason.ERROR
    assert m.text.startswith("Hello")
    assert m.failure is not None
