"""A 200 that is not an event stream, where one was asked for (issue 21, item 14): a
whole completion in the provider's own format (proxies that ignore ``stream: true``) is
read as the reply; an HTML page, or JSON that is no reply, is reported as what it is.
The same events on every transport, on trio and asyncio, for each wire format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinyagent import complete
from tinyagent.messages import (
    AssistantMessage,
    Context,
    FailureKind,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    UserMessage,
)
from tinyagent.testing import LocalServer, Reply

pytestmark = pytest.mark.anyio
CTX = Context("", (UserMessage("hi"),))

CHAT = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{
        "index": 0, "finish_reason": "tool_calls",
        "message": {
            "role": "assistant", "content": "Hello whole",
            "tool_calls": [{"id": "c1", "type": "function",
                            "function": {"name": "f", "arguments": "{\"a\": 1}"}}],
        },
    }],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}  # fmt: skip
ANTHROPIC = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
        {"type": "text", "text": "Hi"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 7, "output_tokens": 4},
}  # fmt: skip
RESPONSES = {
    "id": "resp_1", "object": "response", "status": "completed", "model": "m",
    "output": [
        {"type": "message", "id": "msg_1", "role": "assistant",
         "content": [{"type": "output_text", "text": "Yo"}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f",
         "arguments": "{\"a\": 1}"},
    ],
    "usage": {"input_tokens": 9, "output_tokens": 2},
}  # fmt: skip
GEMINI = [
    {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Hey"},
        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "GS"}]},
        "finishReason": "STOP"}],
     "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 2}},
]  # fmt: skip
BEDROCK = {
    "output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "BS"}}},
        {"text": "Ok"},
        {"toolUse": {"toolUseId": "tu1", "name": "f", "input": {"a": 1}}}]}},
    "stopReason": "tool_use",
    "usage": {"inputTokens": 8, "outputTokens": 3, "totalTokens": 11},
}  # fmt: skip
WHOLE = {
    "openai-chat": (CHAT, (TextContent("Hello whole"), ToolCall("c1", "f", {"a": 1})), (5, 3)),
    "anthropic-messages": (
        ANTHROPIC,
        (ThinkingContent("hmm", "SIG"), TextContent("Hi"), ToolCall("t1", "f", {"a": 1})),
        (7, 4),
    ),
    "openai-responses": (RESPONSES, (TextContent("Yo"), ToolCall("call_1", "f", {"a": 1})), (9, 2)),
    # the JSON array the stream endpoint answers without alt=sse
    "google-gemini": (
        GEMINI,
        (
            TextContent("Hey"),
            ThinkingContent("", "GS", redacted=True),
            ToolCall("call_0", "f", {"a": 1}),
        ),
        (6, 2),
    ),
    "bedrock-converse": (
        BEDROCK,
        (ThinkingContent("hmm", "BS"), TextContent("Ok"), ToolCall("tu1", "f", {"a": 1})),
        (8, 3),
    ),
}


def whole(body: Any, content_type: str = "application/json") -> Reply:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(pieces=(data,), content_type=content_type)


async def call(
    reply: Reply, transport: str, api: str = "openai-chat", **model: Any
) -> AssistantMessage:
    async with LocalServer([reply]) as server:
        return await complete(server.model(api=api, **model), CTX, transport=transport)


@pytest.mark.parametrize("api", list(WHOLE))
async def test_a_whole_completion_is_read_as_the_reply(api: str, transport: str) -> None:
    body, content, (tokens_in, tokens_out) = WHOLE[api]
    reply = await call(whole(body, "application/json; charset=utf-8"), transport, api)
    assert reply.stop_reason is StopReason.TOOL_USE, reply.error_message
    assert reply.content == content
    assert (reply.usage.input + reply.usage.cache_read, reply.usage.output) == (
        tokens_in,
        tokens_out,
    )


async def test_an_html_page_is_reported_as_what_it_is(transport: str) -> None:
    page = b"<!doctype html><html><body><h1>Sign in</h1></body></html>"
    reply = await call(whole(page, "text/html; charset=utf-8"), transport)
    assert reply.stop_reason is StopReason.ERROR
    assert reply.failure is not None and reply.failure.kind is FailureKind.MALFORMED_STREAM
    assert reply.failure.code == "not_event_stream"
    assert reply.error_message == (
        f"not an event stream: the server answered 200 with text/html ({len(page)} bytes): "
        + page.decode()
    )


@pytest.mark.parametrize("body", [b'{"status": "ok"}', b"[1, 2]", b"{not json", b""])
async def test_json_that_is_no_reply_is_reported_too(body: bytes, transport: str) -> None:
    reply = await call(whole(body), transport)
    assert reply.failure is not None and reply.failure.code == "not_event_stream"
    assert reply.error_message is not None
    said = "an empty body (application/json)" if not body else "application/json ("
    assert reply.error_message.startswith(
        f"not an event stream: the server answered 200 with {said}"
    )


async def test_an_error_object_sent_with_200_is_the_provider_s_error(transport: str) -> None:
    error = {"error": {"message": "messages: too long", "type": "invalid_request_error"}}
    reply = await call(whole(error), transport)
    assert reply.stop_reason is StopReason.ERROR
    assert reply.failure is not None and reply.failure.kind is FailureKind.INVALID_REQUEST
    assert reply.error_message is not None and "messages: too long" in reply.error_message


async def test_a_key_echoed_in_the_page_is_redacted(transport: str) -> None:
    page = b"<html>bad key sk-secret-123 for this proxy</html>"
    reply = await call(whole(page, "text/html"), transport, api_key="sk-secret-123")
    assert reply.error_message is not None
    assert "sk-secret-123" not in reply.error_message and "bad key" in reply.error_message


async def test_every_transport_gives_the_same_reply(transport: str) -> None:
    # The pure parser's reading over httpx is the reference the others must match.
    body, _, _ = WHOLE["anthropic-messages"]
    reference = await call(whole(body), "httpx", "anthropic-messages")
    reply = await call(whole(body), transport, "anthropic-messages")
    assert (reply.content, reply.usage, reply.stop_reason, reply.response_id) == (
        reference.content, reference.usage, reference.stop_reason, reference.response_id,
    )  # fmt: skip


@pytest.mark.parametrize("status", [204, 205])
async def test_no_content_is_said_as_such(status: int, transport: str) -> None:
    reply = await call(Reply(status=status, content_type="text/plain"), transport)
    assert reply.failure is not None and reply.failure.code == "not_event_stream"
    assert reply.error_message == (
        f"not an event stream: the server answered {status} with an empty body (text/plain)"
    )


async def test_another_success_status_is_named(transport: str) -> None:
    job = b'{"id": "job-1", "status": "queued"}'
    reply = await call(Reply(status=202, body=job, content_type="application/json"), transport)
    assert reply.error_message == (
        f"not an event stream: the server answered 202 with application/json ({len(job)} "
        f"bytes): {job.decode()}"
    )
