"""End to end: tinyagent.stream/complete against the local server, on trio and asyncio."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

import tinyagent
from tinyagent import (
    Context,
    DoneEvent,
    ErrorEvent,
    ImageContent,
    ProviderError,
    StartEvent,
    StopReason,
    TextContent,
    TextDeltaEvent,
    ToolCall,
    ToolCallEndEvent,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from tinyagent.testing import (
    LocalServer,
    ToolCallSpec,
    chunk,
    chunks_reply,
    error_reply,
    stream_error_reply,
    text_reply,
    tool_call_reply,
)

pytestmark = pytest.mark.anyio

CTX = Context("You are terse.", [UserMessage("hi")])


async def test_text_stream_events_in_order_and_final_message(transport: str) -> None:
    async with LocalServer([text_reply("Hello, world!", chunk_size=5)]) as server:
        async with tinyagent.stream(server.model(), CTX, transport=transport) as events:
            seen = [e async for e in events]
            assert events.message is not None
    assert isinstance(seen[0], StartEvent)
    assert [e.type for e in seen[1:]] == [
        "text_start", "text_delta", "text_delta", "text_delta", "text_end", "done",
    ]  # fmt: skip
    assert "".join(e.delta for e in seen if isinstance(e, TextDeltaEvent)) == "Hello, world!"
    done = seen[-1]
    assert isinstance(done, DoneEvent)
    assert done.message.text == "Hello, world!"
    assert done.message.stop_reason is StopReason.STOP
    assert done.message.model == "mock-model" and done.message.provider == "local"


async def test_request_body_has_everything_the_context_says(transport: str) -> None:
    ctx = Context(
        "sys",
        [
            UserMessage([TextContent("look"), ImageContent(data="QUJD", mime_type="image/jpeg")]),
            tinyagent.AssistantMessage(
                [TextContent("calling"), ToolCall("c1", "calc", {"x": 1})], "tool_use"
            ),
            ToolResultMessage("c1", "calc", "2"),
        ],
        [
            ToolDefinition(
                "calc", "adds", {"type": "object", "properties": {"x": {"type": "number"}}}
            )
        ],
    )
    async with LocalServer([text_reply("ok")]) as server:
        await tinyagent.complete(
            server.model(api_key="sk-test-123"),
            ctx,
            temperature=0.2,
            max_tokens=50,
            reasoning_effort="low",
            transport=transport,
        )
        req = server.requests[0]
    body = req.json
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test-123"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (
        body["temperature"] == 0.2
        and body["max_tokens"] == 50
        and body["reasoning_effort"] == "low"
    )
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
        ]},
        {"role": "assistant", "content": "calling", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "calc", "arguments": '{"x":1}'}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
    ]  # fmt: skip
    assert body["tools"][0]["function"]["name"] == "calc"


async def test_invalid_arguments_are_sent_back_as_received(transport: str) -> None:
    bad = ToolCall("c1", "calc", {}, raw_arguments='{"x": 1,', arguments_error="bad")
    ctx = Context(messages=[UserMessage("u"), tinyagent.AssistantMessage([bad], "tool_use")])
    async with LocalServer([text_reply("ok")]) as server:
        await tinyagent.complete(server.model(), ctx, transport=transport)
        sent = server.requests[0].json["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert sent == '{"x": 1,'


async def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch, transport: str) -> None:
    monkeypatch.setenv("TINYAGENT_TEST_KEY", "sk-from-env")
    async with LocalServer([text_reply("ok")]) as server:
        await tinyagent.complete(
            server.model(api_key_env="TINYAGENT_TEST_KEY"), CTX, transport=transport
        )
        assert server.requests[0].headers["authorization"] == "Bearer sk-from-env"


async def test_parallel_interleaved_tool_calls(transport: str) -> None:
    calls = [ToolCallSpec("calc", {"expr": "1+2"}, "a"), ToolCallSpec("clock", {"tz": "UTC"}, "b")]
    async with LocalServer([tool_call_reply(calls, interleave=True, chunk_size=3)]) as server:
        async with tinyagent.stream(server.model(), CTX, transport=transport) as events:
            ends = [
                e.tool_call for e in [x async for x in events] if isinstance(e, ToolCallEndEvent)
            ]
            message = events.message
    assert message is not None and message.stop_reason is StopReason.TOOL_USE
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == [
        ("a", "calc", {"expr": "1+2"}),
        ("b", "clock", {"tz": "UTC"}),
    ]
    assert ends == list(message.tool_calls)


async def test_http_error_is_an_error_event_with_status_and_message(transport: str) -> None:
    async with LocalServer([error_reply(401, "Incorrect API key provided")]) as server:
        async with tinyagent.stream(
            server.model(), CTX, max_retries=0, transport=transport
        ) as events:
            seen = [e async for e in events]
    assert len(seen) == 1 and isinstance(seen[0], ErrorEvent)
    err = seen[0].error
    assert isinstance(err, ProviderError) and err.status == 401
    assert err.model == "mock-model" and err.provider == "local"
    msg = seen[0].message
    assert msg.stop_reason is StopReason.ERROR
    assert msg.error_message is not None
    assert "401" in msg.error_message and "Incorrect API key provided" in msg.error_message


async def test_api_key_never_appears_in_errors(transport: str) -> None:
    async with LocalServer([error_reply(401, "nope")]) as server:
        model = server.model(api_key="sk-very-secret")
        async with tinyagent.stream(model, CTX, max_retries=0, transport=transport) as events:
            seen = [e async for e in events]
    assert "sk-very-secret" not in repr(seen) and "sk-very-secret" not in repr(model)
    assert "sk-very-secret" not in str(seen[-1].error)


async def test_retryable_status_is_retried_then_succeeds(transport: str) -> None:
    replies = [error_reply(503, "busy", headers={"retry-after": "0"}), text_reply("after retry")]
    async with LocalServer(replies) as server:
        message = await tinyagent.complete(server.model(), CTX, max_retries=2, transport=transport)
        assert len(server.requests) == 2
    assert message.text == "after retry"


async def test_retries_are_bounded(transport: str) -> None:
    replies = [error_reply(500, "down", headers={"retry-after": "0"})] * 3
    async with LocalServer(replies) as server:
        message = await tinyagent.complete(server.model(), CTX, max_retries=1, transport=transport)
        assert len(server.requests) == 2
    assert message.stop_reason is StopReason.ERROR and "500" in (message.error_message or "")


async def test_in_stream_error_object_keeps_partial_text(transport: str) -> None:
    async with LocalServer(
        [stream_error_reply("Provider returned error", text="partial ans")]
    ) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert message.stop_reason is StopReason.ERROR
    assert message.error_message == "Provider returned error"
    assert message.text == "partial ans"


async def test_malformed_json_chunk_keeps_partial_and_says_which(transport: str) -> None:
    reply = chunks_reply(
        [
            chunk({"content": "so far"}),
            '{"choices": [{"delta": {"content": "x"}',
            chunk({}, finish_reason="stop"),
        ]
    )
    async with LocalServer([reply]) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert message.stop_reason is StopReason.ERROR
    assert message.text == "so far"
    assert "malformed JSON" in (message.error_message or "")


async def test_stream_ending_before_finish_reason_keeps_tool_calls(transport: str) -> None:
    reply = chunks_reply(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a": 1}'}}
                    ]
                }
            )
        ],
        done=False,
    )
    async with LocalServer([reply]) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert message.stop_reason is StopReason.ERROR
    assert "before a finish reason" in (message.error_message or "")
    assert message.tool_calls[0].arguments == {"a": 1}


async def test_over_long_line_is_an_error_not_unbounded_memory(transport: str) -> None:
    reply = chunks_reply([chunk({"content": "ok "}), chunk({"content": "x" * 5000})])
    async with LocalServer([reply]) as server:
        message = await tinyagent.complete(
            server.model(), CTX, max_line_bytes=1000, transport=transport
        )
    assert message.stop_reason is StopReason.ERROR
    assert "longer than 1000 bytes" in (message.error_message or "")
    assert message.text == "ok "


async def test_mid_stream_disconnect_keeps_partial(transport: str) -> None:
    async with LocalServer(
        [text_reply("abcdefghijklmnop", chunk_size=4).but(disconnect_after=3)]
    ) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert message.stop_reason is StopReason.ERROR
    assert "closed mid-stream" in (message.error_message or "")
    assert message.text == "abcdefgh"


async def test_connection_refused_is_an_error_message(transport: str) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()
    model = tinyagent.Model("m", f"http://127.0.0.1:{port}/v1")
    message = await tinyagent.complete(model, CTX, max_retries=0, transport=transport)
    assert message.stop_reason is StopReason.ERROR
    assert "could not connect" in (message.error_message or "")


async def test_leaving_the_block_early_closes_the_connection(transport: str) -> None:
    reply = text_reply("x" * 400, chunk_size=1, chunk_delay=0.01)
    async with LocalServer([reply]) as server:
        async with tinyagent.stream(server.model(), CTX, transport=transport) as events:
            async for e in events:
                if isinstance(e, TextDeltaEvent):
                    break
        assert await server.wait_connections_closed()
        assert not server.requests[0].finished
        assert server.requests[0].client_disconnected


async def test_cancelling_the_task_closes_the_connection(transport: str) -> None:
    reply = text_reply("y" * 400, chunk_size=1, chunk_delay=0.01)
    got_first = anyio.Event()
    async with LocalServer([reply]) as server:
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                async with tinyagent.stream(server.model(), CTX, transport=transport) as events:
                    async for e in events:
                        if isinstance(e, TextDeltaEvent):
                            got_first.set()

            tg.start_soon(consume)
            await got_first.wait()
            tg.cancel_scope.cancel()
        assert await server.wait_connections_closed()
        assert server.requests[0].client_disconnected


async def test_abort_after_cancel_keeps_partial_as_aborted(transport: str) -> None:
    reply = text_reply("z" * 100, chunk_size=1, chunk_delay=0.01)
    async with (
        LocalServer([reply]) as server,
        tinyagent.stream(server.model(), CTX, transport=transport) as events,
    ):
        seen = 0
        with anyio.CancelScope() as scope:
            async for e in events:
                if isinstance(e, TextDeltaEvent):
                    seen += 1
                    if seen == 5:
                        scope.cancel()  # as a deadline would, mid-stream
        message = events.abort("deadline passed")
    assert message.stop_reason is StopReason.ABORTED
    assert message.error_message == "deadline passed"
    assert 5 <= len(message.text) < 100  # nothing that arrived is lost


async def test_shared_client_reuses_one_connection() -> None:
    async with LocalServer([text_reply("one"), text_reply("two"), text_reply("three")]) as server:
        async with httpx.AsyncClient() as client:
            texts = [
                (await tinyagent.complete(server.model(), CTX, client=client)).text
                for _ in range(3)
            ]
        assert texts == ["one", "two", "three"]
        assert server.connections_total == 1


async def test_unknown_api_raises_before_any_io() -> None:
    with pytest.raises(ValueError, match="unknown model api 'carrier-pigeon'"):
        tinyagent.stream(tinyagent.Model("m", "http://127.0.0.1:9/v1", api="carrier-pigeon"), CTX)


async def test_unknown_transport_and_option_raise() -> None:
    model = tinyagent.Model("m", "http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="unknown transport 'smoke-signals'"):
        tinyagent.stream(model, CTX, transport="smoke-signals")
    with pytest.raises(TypeError):
        tinyagent.stream(model, CTX, temprature=0.1)


async def test_usage_and_cost_end_to_end(transport: str) -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 60},
    }
    async with LocalServer([text_reply("hi", usage=usage)]) as server:
        model = server.model(cost=tinyagent.ModelCost(input=2.0, output=8.0, cache_read=0.5))
        message = await tinyagent.complete(model, CTX, transport=transport)
    u = message.usage
    assert (u.input, u.output, u.cache_read, u.total) == (40, 20, 60, 120)
    assert u.cost is not None and u.cost.total == pytest.approx((40 * 2 + 20 * 8 + 60 * 0.5) / 1e6)


async def test_events_serialise_through_json(transport: str) -> None:
    async with LocalServer([text_reply("round trip")]) as server:
        message = await tinyagent.complete(server.model(), CTX, transport=transport)
    text = tinyagent.serde.dumps(message)
    assert json.loads(text)["role"] == "assistant"
    assert tinyagent.serde.loads(text, tinyagent.AssistantMessage) == message


async def test_calls_without_a_session_share_connections(transport: str) -> None:
    replies = [text_reply("one"), text_reply("two"), text_reply("three")]
    async with LocalServer(replies) as server:
        texts = [
            (await tinyagent.complete(server.model(), CTX, transport=transport)).text
            for _ in range(3)
        ]
        assert texts == ["one", "two", "three"]
        if transport == "native":
            # reqwest hands a finished connection back to its pool in the background:
            # the next call may start first and open one more, but never one per call.
            assert server.connections_total <= 2
        else:
            assert server.connections_total == 1, "one keep-alive connection, reused"


# The native transport pools in Rust for the whole process, not per loop.
@pytest.mark.parametrize("transport_", ["httpx", "httpx+native"])
@pytest.mark.parametrize("inner_backend", ["trio", "asyncio"])
async def test_the_loops_shared_connections_close_with_the_loop(
    inner_backend: str, transport_: str
) -> None:
    transport = transport_
    async with LocalServer([text_reply("a"), text_reply("b")]) as server:
        model = server.model()

        async def calls() -> list[str]:
            return [
                (await tinyagent.complete(model, CTX, transport=transport)).text for _ in range(2)
            ]

        # Another event loop, in a thread, while this one serves: when it ends, the
        # keeper of its default session closes the idle connection.
        texts = await anyio.to_thread.run_sync(lambda: anyio.run(calls, backend=inner_backend))
        assert texts == ["a", "b"] and server.connections_total == 1
        assert await server.wait_connections_closed()
