"""The httpx transport at width: a session's pool hands a call a connection only when
one is free, so no call fails for waiting (however short its connect timeout), a call
cancelled while waiting gives nothing back twice, and the pool never opens more than
``max_connections``."""

from __future__ import annotations

import anyio
import pytest

import tinyagent
from tinyagent import Context, UserMessage
from tinyagent.testing import LocalServer, RecordedRequest, Reply, text_reply
from tinyagent.transports import Connections

pytestmark = pytest.mark.anyio
CTX = Context(messages=[UserMessage("hi")])


def _slow(seconds: float):  # type: ignore[no-untyped-def]
    async def handler(request: RecordedRequest) -> Reply:
        await anyio.sleep(seconds)
        return text_reply("ok")

    return handler


async def test_calls_wait_for_a_free_connection_past_the_connect_timeout() -> None:
    async with LocalServer(handler=_slow(0.3)) as server, Connections(max_connections=2) as conns:
        most = 0
        answers: list[str | None] = []

        async def one() -> None:
            nonlocal most
            msg = await tinyagent.complete(
                server.model(), CTX, transport="httpx", session=conns, connect_timeout=0.05
            )
            most = max(most, server.open_connections)
            answers.append(msg.error_message)

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
    assert answers == [None] * 6  # each waited ~0.3-0.9 s for a connection, none failed
    assert most <= 2
    assert server.connections_total <= 2  # kept alive and reused


async def test_a_call_cancelled_while_waiting_leaves_the_pool_whole() -> None:
    async with LocalServer(handler=_slow(0.3)) as server, Connections(max_connections=1) as conns:

        async def one() -> None:
            await tinyagent.complete(server.model(), CTX, transport="httpx", session=conns)

        with anyio.move_on_after(0.1):  # one call holds the connection; two wait; all cut
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(one)
        # The slot came back once per call: a call now gets the connection at once.
        with anyio.fail_after(5):
            msg = await tinyagent.complete(server.model(), CTX, transport="httpx", session=conns)
        assert msg.error_message is None
        (pool,) = conns._httpx.values()
        assert pool._free.value == 1


async def test_hundreds_in_flight_on_the_default_session_are_all_answered() -> None:
    async with LocalServer(handler=_slow(0.05), record=False) as server:
        failures: list[str] = []

        async def one() -> None:
            msg = await tinyagent.complete(server.model(), CTX, transport="httpx")
            if msg.error_message is not None:
                failures.append(msg.error_message)

        async with anyio.create_task_group() as tg:
            for _ in range(300):
                tg.start_soon(one)
    assert failures == []


def test_max_connections_is_checked() -> None:
    for bad in (0, -1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="max_connections must be a whole number"):
            Connections(max_connections=bad)  # type: ignore[arg-type]


async def test_a_session_sends_what_an_httpx_client_would() -> None:
    # A session's calls go straight to its transport, past the client: the headers the
    # client would add are still sent, each once, and the model's own win.
    async with LocalServer([text_reply("ok"), text_reply("ok")]) as server:
        model = server.model(api_key="sk-test-123456", headers={"x-extra": "1"})
        async with Connections() as conns:
            msg = await tinyagent.complete(model, CTX, transport="httpx", session=conns)
        import httpx

        async with httpx.AsyncClient() as client:
            theirs = await tinyagent.complete(model, CTX, transport="httpx", client=client)
    assert msg.text == theirs.text == "ok"
    ours, via_client = (r.headers for r in server.requests)
    assert ours == via_client
    assert ours["user-agent"] == f"tinyagent/{tinyagent.__version__}"
    assert ours["accept"] == "text/event-stream" and ours["x-extra"] == "1"
    assert ours["authorization"] == "Bearer sk-test-123456"


async def test_a_header_the_model_sets_replaces_the_clients_default_in_any_case() -> None:
    import httpx

    from tinyagent.transports._httpx import HttpxSource
    from tinyagent.wire import PreparedRequest, StreamOptions

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b"")

    class _Slot:
        def __init__(self) -> None:
            self.transport = httpx.MockTransport(handler)
            self.headers = {
                "accept": "*/*",
                "user-agent": "python-httpx/x",
                "accept-encoding": "gzip",
            }

    request = PreparedRequest(
        "http://127.0.0.1:1/v1/chat/completions",
        {"User-Agent": "mine/1", "accept": "text/event-stream"},
        b"{}",
    )
    source = HttpxSource(
        tinyagent.Model("m", "http://127.0.0.1:1/v1"), None, request, StreamOptions(), None
    )  # type: ignore[arg-type]
    response = await source._send(_Slot())  # type: ignore[arg-type]
    await response.aclose()
    sent = seen[0].headers
    assert sent.get_list("user-agent") == ["mine/1"]
    assert sent.get_list("accept") == ["text/event-stream"]
    assert sent["accept-encoding"] == "gzip"
