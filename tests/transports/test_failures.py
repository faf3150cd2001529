"""The same failure gives the same typed failure, exception type and words on every
transport (httpx, httpx+native, native), for every failure kind; and retries are
decided once, above the transports."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import tinyagent
from tinyagent import (
    Context,
    FailureKind,
    ProviderError,
    StopReason,
    StreamFormatError,
    TransportError,
    UserMessage,
)
from tinyagent.testing import (
    LocalServer,
    Reply,
    anthropic_error_event_reply,
    anthropic_events_reply,
    anthropic_overloaded_reply,
    anthropic_text_reply,
    chunks_reply,
    error_reply,
    stream_error_reply,
    text_reply,
)

pytestmark = pytest.mark.anyio
CTX = Context(messages=[UserMessage("hi")])
TRANSPORTS = ["httpx", "httpx+native", "native"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# name -> (replies, api, expected kind, expected exception type, status, code)
CASES: dict[str, tuple[Callable[[], list[Reply]], str, FailureKind, type, int | None, str | None]] = {
    "authentication": (
        lambda: [error_reply(401, "bad key", error_type="invalid_api_key")],
        "openai-chat", FailureKind.AUTHENTICATION, ProviderError, 401, "invalid_api_key",
    ),
    "not_found": (
        lambda: [error_reply(404, "no such model", error_type="not_found_error")],
        "openai-chat", FailureKind.NOT_FOUND, ProviderError, 404, "not_found_error",
    ),
    "rate_limit": (
        lambda: [error_reply(429, "slow down", headers={"retry-after": "7"})],
        "openai-chat", FailureKind.RATE_LIMIT, ProviderError, 429, "server_error",
    ),
    "context_overflow": (
        lambda: [error_reply(400, "This model's maximum context length is 8192 tokens.",
                             error_type="invalid_request_error")],
        "openai-chat", FailureKind.CONTEXT_OVERFLOW, ProviderError, 400, "invalid_request_error",
    ),
    "overloaded_status": (
        lambda: [anthropic_overloaded_reply()],
        "anthropic-messages", FailureKind.OVERLOADED, ProviderError, 529, "overloaded_error",
    ),
    "server": (
        lambda: [Reply(status=500, body=b"<html>Internal oops</html>", content_type="text/html")],
        "openai-chat", FailureKind.SERVER, ProviderError, 500, None,
    ),
    "in_stream_error": (
        lambda: [stream_error_reply("upstream failed", text="partial")],
        "openai-chat", FailureKind.SERVER, ProviderError, 502, None,
    ),
    "anthropic_error_event": (
        lambda: [anthropic_error_event_reply("overloaded_error", "Overloaded", text="partial")],
        "anthropic-messages", FailureKind.OVERLOADED, ProviderError, None, "overloaded_error",
    ),
    "malformed": (
        lambda: [chunks_reply([{"choices": [{"delta": {"content": "x"}}]}, "{oops"], done=False)],
        "openai-chat", FailureKind.MALFORMED_STREAM, StreamFormatError, None, "format",
    ),
    "truncated": (
        lambda: [anthropic_text_reply("hello there", chunk_size=2).but(disconnect_after=4)],
        "anthropic-messages", FailureKind.CONNECTION, TransportError, None, "closed",
    ),
    "read_timeout": (
        lambda: [text_reply("hello", stall_after=1, stall=3.0)],
        "openai-chat", FailureKind.TIMEOUT, TransportError, None, "read_timeout",
    ),
}  # fmt: skip


async def _outcome(name: str, transport: str) -> tuple[Any, ...]:
    replies, api, *_ = CASES[name]
    async with LocalServer(replies()) as server:
        model = server.model(api=api)
        async with tinyagent.stream(
            model, CTX, transport=transport, max_retries=0, read_timeout=0.5
        ) as events:
            evs = [e async for e in events]
    err = evs[-1]
    assert isinstance(err, tinyagent.ErrorEvent)
    m = err.message
    return (m.stop_reason, m.error_message, m.failure, type(err.error), m.text)


@pytest.mark.parametrize("name", list(CASES))
async def test_every_failure_kind_reads_the_same_on_every_transport(name: str) -> None:
    _, _, kind, exc_type, status, code = CASES[name]
    outcomes = [await _outcome(name, t) for t in TRANSPORTS]
    assert outcomes[0] == outcomes[1] == outcomes[2], outcomes
    stop, words, failure, got_type, _ = outcomes[0]
    assert stop is StopReason.ERROR and words
    assert got_type is exc_type
    assert failure is not None
    assert (failure.kind, failure.status, failure.code) == (kind, status, code)
    if name == "rate_limit":
        assert failure.retry_after == 7.0


async def test_connection_refused_reads_the_same_on_every_transport() -> None:
    model = tinyagent.Model("m", f"http://127.0.0.1:{_free_port()}/v1")
    outcomes = []
    for t in TRANSPORTS:
        m = await tinyagent.complete(model, CTX, transport=t, max_retries=0)
        outcomes.append((m.error_message, m.failure))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0][1] == tinyagent.Failure(FailureKind.CONNECTION, None, "connect")
    assert outcomes[0][0].startswith("could not connect to http://127.0.0.1:")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_error_event_before_any_content_is_retried(transport: str) -> None:
    replies = [anthropic_error_event_reply(), anthropic_overloaded_reply(),
               anthropic_text_reply("fine now")]  # fmt: skip
    async with LocalServer(replies) as server:
        model = server.model(api="anthropic-messages")
        with anyio.fail_after(20):
            async with tinyagent.stream(model, CTX, transport=transport, max_retries=2) as events:
                evs = [e async for e in events]
    assert len(server.requests) == 3
    assert evs[-1].message.text == "fine now" and evs[-1].message.failure is None
    # The consumer saw one start and no failed attempt.
    assert sum(isinstance(e, tinyagent.StartEvent) for e in evs) == 1
    assert not any(isinstance(e, tinyagent.ErrorEvent) for e in evs)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_error_event_after_content_is_final(transport: str) -> None:
    replies = [anthropic_error_event_reply(text="partial"), anthropic_text_reply("never")]
    async with LocalServer(replies) as server:
        model = server.model(api="anthropic-messages")
        m = await tinyagent.complete(model, CTX, transport=transport, max_retries=2)
    assert len(server.requests) == 1
    assert m.stop_reason is StopReason.ERROR and m.text == "partial"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_retry_after_is_honoured_and_bounded_by_max_retries(transport: str) -> None:
    replies = [error_reply(429, headers={"retry-after": "0"}) for _ in range(3)]
    async with LocalServer(replies) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport, max_retries=2)
    assert len(server.requests) == 3
    assert m.failure is not None and m.failure.kind is FailureKind.RATE_LIMIT


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),  # OpenAI's, the finer
        ({"x-ms-retry-after-ms": "250"}, 0.25),  # Azure's
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),  # unreadable: the other
        ({"retry-after-ms": "-5"}, None),
    ],
)
async def test_a_wait_in_milliseconds_is_read(
    transport: str, headers: dict[str, str], wait: float | None
) -> None:
    async with LocalServer([error_reply(429, headers=headers)]) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport, max_retries=0)
    assert m.failure is not None and m.failure.retry_after == wait


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("header", ["x-request-id", "request-id", "x-amzn-requestid"])
async def test_the_provider_s_request_id_is_named(transport: str, header: str) -> None:
    async with LocalServer([error_reply(400, headers={header: "req_8f2a"})]) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert m.failure is not None and m.failure.request_id == "req_8f2a"
    assert m.error_message is not None and m.error_message.endswith(" (request id req_8f2a)")
    data = tinyagent.serde.unstructure(m)
    assert tinyagent.serde.structure(data, tinyagent.AssistantMessage) == m


async def test_a_failure_stored_before_request_ids_still_loads() -> None:
    old = {"kind": "server", "status": 500, "code": None, "retry_after": None}
    assert tinyagent.serde.structure(old, tinyagent.Failure) == tinyagent.Failure(
        FailureKind.SERVER, 500
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e9"])
async def test_an_absurd_retry_after_falls_back_to_the_backoff(transport: str, value: str) -> None:
    replies = [error_reply(429, headers={"retry-after": value}), text_reply("ok")]
    async with LocalServer(replies) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport, max_retries=1)
    assert len(server.requests) == 2  # retried, after the first backoff step (< 1 s)
    assert m.stop_reason is StopReason.STOP and m.text == "ok"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_connection_closed_before_any_response_is_retried(transport: str) -> None:
    """A server's idle keep-alive connection, closed as the request goes out: nothing
    was answered, so the call is tried again on a new connection, on every transport."""
    replies = [text_reply("first"), text_reply("x").but(no_response=True), text_reply("ok")]
    async with LocalServer(replies) as server:
        async with tinyagent.transports.Connections() as connections:
            first = await tinyagent.complete(
                server.model(), CTX, transport=transport, session=connections
            )
            m = await tinyagent.complete(
                server.model(), CTX, transport=transport, session=connections, max_retries=1
            )
    assert first.text == "first" and len(server.requests) == 3
    assert m.stop_reason is StopReason.STOP and m.text == "ok"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_no_response_without_retries_says_what_happened(transport: str) -> None:
    async with LocalServer([text_reply("x").but(no_response=True)]) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport, max_retries=0)
    assert m.failure is not None and m.failure.kind is FailureKind.CONNECTION
    assert m.failure.code == "no_response"
    assert (
        m.error_message
        == f"the connection to {server.base_url}/chat/completions closed before any response"
    )


async def test_a_failure_round_trips_through_serde() -> None:
    async with LocalServer([error_reply(429, headers={"retry-after": "3"})]) as server:
        m = await tinyagent.complete(server.model(), CTX, max_retries=0)
    data = tinyagent.serde.unstructure(m)
    assert json.loads(json.dumps(data))["failure"] == {
        "kind": "rate_limit", "status": 429, "code": "server_error", "retry_after": 3.0,
        "request_id": None,
    }  # fmt: skip
    assert tinyagent.serde.structure(data, tinyagent.AssistantMessage) == m


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("api", ["openai-chat", "anthropic-messages"])
async def test_a_key_a_provider_echoes_back_is_never_kept(
    transport: str, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 body that quotes the key (as OpenAI's 'Incorrect API key provided: …' and
    proxies do): the key appears in no message, repr, serde output or log line."""
    key = "sk-test-0123456789abcdefSECRET"
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}.", "type": "x"}})
    reply = error_reply(401).but(body=body.encode())
    caplog.set_level("DEBUG", logger="tinyagent")
    async with LocalServer([reply]) as server:
        m = await tinyagent.complete(
            server.model(api=api), CTX, transport=transport, api_key=key, max_retries=0
        )
    assert m.failure is not None and m.failure.status == 401
    assert "Incorrect API key provided: ***." in (m.error_message or "")
    kept = [m.error_message or "", repr(m), json.dumps(tinyagent.serde.unstructure(m)), caplog.text]
    assert all(key not in text for text in kept)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("api", ["openai-chat", "anthropic-messages"])
async def test_a_key_echoed_in_a_stream_error_event_is_never_kept(
    transport: str, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The same key quoted by an error event in the stream, after some content (so it is
    not retried): the message, the event's error, repr, serde and the log are clean."""
    key = "sk-test-0123456789abcdefSECRET"
    said = f"upstream refused key {key} mid-stream"
    if api == "openai-chat":
        reply = chunks_reply(
            [{"choices": [{"index": 0, "delta": {"content": "part"}}]},
             {"error": {"type": "invalid_request_error", "message": said}}],
            done=False,
        )  # fmt: skip
    else:
        reply = anthropic_events_reply(
            [
                {"type": "message_start", "message": {"id": "m1", "usage": {"input_tokens": 1}}},
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "part"}},
                {"type": "error", "error": {"type": "invalid_request_error", "message": said}},
            ]
        )  # fmt: skip
    caplog.set_level("DEBUG", logger="tinyagent")
    errors: list[BaseException | None] = []
    async with LocalServer([reply]) as server:
        async with tinyagent.stream(
            server.model(api=api), CTX, transport=transport, api_key=key, max_retries=0
        ) as events:
            async for ev in events:
                if isinstance(ev, tinyagent.ErrorEvent):
                    errors.append(ev.error)
                    assert ev.message is events.message
        m = events.message
    assert m is not None and m.text == "part" and m.stop_reason == "error"
    assert "upstream refused key *** mid-stream" in (m.error_message or "")
    kept = [m.error_message or "", repr(m), json.dumps(tinyagent.serde.unstructure(m)), caplog.text]
    kept += [str(e) for e in errors] + [getattr(e, "body", "") for e in errors]
    assert all(key not in text for text in kept)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_in_stream_server_error_before_content_is_retried(transport: str) -> None:
    error = {"error": {"type": "internal_server_error", "code": "500", "message": "boom"}}
    replies = [chunks_reply([error], done=False), text_reply("ok")]
    async with LocalServer(replies) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport, max_retries=1)
    assert len(server.requests) == 2 and m.text == "ok"
