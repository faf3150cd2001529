"""What a server must do: a client that hangs up cancels its run and leaves a valid
transcript; the run deadline; body limits; hostile bodies get a 4xx naming what was
wrong, and the server keeps serving. On hypercorn/trio and uvicorn/asyncio."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from tinyagent import Agent, InMemorySession, ToolResultMessage, tool
from tinyagent.messages import unanswered_calls
from tinyagent.serve import Limits

from ._served import served

pytestmark = pytest.mark.anyio


def _blocking_tool() -> tuple[object, anyio.Event, anyio.Event]:
    entered = anyio.Event()
    cancelled = anyio.Event()

    @tool
    async def wait(x: float) -> float:
        """Wait for ever."""
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        return x

    return wait, entered, cancelled


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses", "/v1/responses-whole"])
async def test_a_client_that_hangs_up_cancels_its_run(path: str) -> None:
    wait, entered, cancelled = _blocking_tool()
    stores: dict[str, InMemorySession] = {}

    def session(conversation: str) -> InMemorySession:
        return stores.setdefault(conversation, InMemorySession())

    async with served() as (_, model_server):
        agents = {"slow": lambda: Agent(model_server.model(), "", [wait])}
        async with served(agents=agents, sessions=session) as (url, _):
            streamed = not path.endswith("-whole")
            route = path.removesuffix("-whole")
            body = (
                {"model": "slow", "messages": [{"role": "user", "content": "wait 1"}]}
                if "chat" in route
                else {"model": "slow", "input": "wait 1"}
            )
            body["stream"] = streamed
            async with httpx.AsyncClient(timeout=30) as client, anyio.create_task_group() as tg:

                async def call() -> None:
                    async with client.stream("POST", url + route, json=body) as r:
                        async for _ in r.aiter_bytes():
                            pass

                tg.start_soon(call)
                await entered.wait()
                tg.cancel_scope.cancel()  # the client goes away mid-run
            with anyio.fail_after(10):  # the run is cancelled, not left running
                await cancelled.wait()
            async with httpx.AsyncClient() as client:
                assert (await client.get(url + "/healthz")).status_code == 200
    if "responses" in route:
        # the conversation stored what the run did, with the open call answered
        ((_, store),) = stores.items()
        with anyio.fail_after(10):
            while not any(isinstance(m, ToolResultMessage) for m in await store.load()):  # noqa: ASYNC110 - a store has no event to wait on
                await anyio.sleep(0.01)
        stored = await store.load()
        assert unanswered_calls(stored) == ()
        result = next(m for m in stored if isinstance(m, ToolResultMessage))
        assert result.is_error


async def test_a_run_past_the_servers_deadline_ends_as_an_error() -> None:
    wait, _entered, cancelled = _blocking_tool()
    async with served() as (_, model_server):
        agents = {"slow": lambda: Agent(model_server.model(), "", [wait])}
        async with served(agents=agents, limits=Limits(run_deadline=0.2)) as (url, _):
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(
                    url + "/v1/chat/completions",
                    json={"model": "slow", "messages": [{"role": "user", "content": "wait 1"}]},
                )
    assert cancelled.is_set()
    assert r.status_code == 504
    assert "deadline" in r.json()["error"]["message"]


async def test_a_body_over_the_limit_is_a_413() -> None:
    async with served(limits=Limits(max_body_bytes=1000)) as (url, _):
        async with httpx.AsyncClient() as client:
            big = {"model": "calc", "messages": [{"role": "user", "content": "x" * 5000}]}
            r = await client.post(url + "/v1/chat/completions", json=big)
            assert r.status_code == 413
            assert (
                r.json()["error"]["message"]
                == "the request body is over this server's 1000-byte limit"
            )

            async def chunks():  # no content-length: refused while it is read
                for _ in range(10):
                    yield b"x" * 500

            r = await client.post(url + "/api/stream", content=chunks())
            assert r.status_code == 413
            assert "1000-byte limit" in r.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/v1/chat/completions", b"{", 400, "the body is not valid JSON"),
        ("/v1/chat/completions", b"", 400, "the request has no body"),
        ("/v1/chat/completions", b'"hi"', 400, "the body must be a JSON object"),
        ("/v1/chat/completions", b'{"model": 5}', 400, "model: must name a served agent"),
        (
            "/v1/chat/completions",
            b'{"model": "calc", "messages": [{"role": "user", "content": 5}]}',
            400,
            "messages[0].content: must be a string or a list of content parts",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "calc", "messages": [{"role": "assistant", "content": "x"}]}',
            400,
            "the last message must be the user's",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "calc", "messages": [{"role": "user", "content": "x"}], "tools": [{}]}',
            400,
            "tools: client tools are not run here",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "calc", "messages": [{"role": "user", "content": "x"}], "n": 2}',
            400,
            "n: a served agent gives one answer per request",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "no agent named 'nope' is served here (served: calc)",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "calc", "messages": [{"role": "user", "content": [{"type": "image_url",'
            b' "image_url": {"url": "data:image/png;base64,@@"}}]}]}',
            400,
            "messages[0].content[0].image_url: ImageContent.data is not valid base64",
        ),
        (
            "/v1/responses",
            b'{"model": "calc", "input": [{"role": "user", "content": [{"type": "input_image",'
            b' "image_url": "data:image/png,abc"}]}]}',
            400,
            "input[0].content[0].image_url: a data URL image must be base64",
        ),
        (
            "/v1/responses",
            b'{"model": "calc", "input": [{"type": "function_call"}]}',
            400,
            "input[0].type: 'function_call' items are not accepted",
        ),
        (
            "/v1/responses",
            b'{"model": "calc", "input": "x", "previous_response_id": "resp_zz_3"}',
            404,
            "no response 'resp_zz_3' is stored here",
        ),
        (
            "/v1/responses",
            b'{"model": "calc", "input": "x", "temperature": "hot"}',
            400,
            "temperature: must be a number",
        ),
        ("/v1/responses", b'{"model": "calc", "input": "\\ud800 lone"}', 200, ""),
    ],
)
async def test_hostile_bodies_get_a_4xx_naming_what_was_wrong(
    path: str, body: bytes, status: int, words: str
) -> None:
    async with served() as (url, _):
        async with httpx.AsyncClient() as client:
            r = await client.post(url + path, content=body)
            assert r.status_code == status, r.text
            if status != 200:
                assert words in r.json()["error"]["message"]
            else:
                assert json.loads(r.text)["status"] == "completed"
            r = await client.get(url + "/v1/chat/completions")
            assert r.status_code == 405 and "error" in r.json()
            assert (await client.get(url + "/healthz")).json() == {"status": "ok"}
