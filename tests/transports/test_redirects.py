"""A redirect (3xx) is reported, never followed, the same on every transport: the native
core used to follow it (reqwest's default, a 301 or 302 turning the POST into a GET)
while httpx read the redirect's body as an event stream ("ended in the middle of an
event"). Only a caller's own httpx client that follows redirects follows them."""

from __future__ import annotations

import httpx
import pytest

from tinyagent import complete
from tinyagent.messages import Context, FailureKind, StopReason, UserMessage
from tinyagent.testing import LocalServer, Reply, text_reply

pytestmark = pytest.mark.anyio
CTX = Context("", (UserMessage("hi"),))


def moved(status: int, location: str | None) -> Reply:
    headers = {"location": location} if location is not None else {}
    return Reply(status=status, body=b"moved", content_type="text/plain", headers=headers)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_reported_not_followed(status: int, transport: str) -> None:
    async with LocalServer([moved(status, "/v2/chat/completions"), text_reply("no")]) as server:
        reply = await complete(server.model(), CTX, transport=transport)
        assert len(server.requests) == 1  # neither followed nor retried
        where = f"{server.base_url.rsplit('/v1', 1)[0]}/v2/chat/completions"
    assert reply.stop_reason is StopReason.ERROR
    assert reply.failure is not None
    assert (reply.failure.kind, reply.failure.status, reply.failure.code) == (
        FailureKind.NOT_FOUND,
        status,
        "redirect",
    )
    assert reply.error_message == (
        f"HTTP {status} from local (mock-model): the server redirects to {where}, and "
        "tinyagent follows no redirects (a request and its API key go only where base_url "
        "says): change base_url to the address the server names"
    )


async def test_a_redirect_with_no_location_says_so(transport: str) -> None:
    async with LocalServer([moved(302, None)]) as server:
        reply = await complete(server.model(), CTX, transport=transport)
    assert reply.error_message is not None
    assert "the server redirects, with no Location header," in reply.error_message


async def test_a_key_in_the_location_is_redacted(transport: str) -> None:
    key = "sk-secret-in-location-123"
    async with LocalServer([moved(307, f"https://elsewhere.example/v1?key={key}")]) as server:
        reply = await complete(server.model(api_key=key), CTX, transport=transport)
    assert reply.error_message is not None
    assert key not in reply.error_message
    assert "https://elsewhere.example/v1?key=***" in reply.error_message


async def test_a_client_that_follows_redirects_follows_them() -> None:
    async with LocalServer([moved(307, "/v1/chat/completions"), text_reply("there")]) as server:
        async with httpx.AsyncClient(follow_redirects=True) as client:
            reply = await complete(server.model(), CTX, transport="httpx", client=client)
        assert len(server.requests) == 2
    assert reply.stop_reason is StopReason.STOP, reply.error_message
    assert reply.text == "there"


async def test_a_long_location_is_cut(transport: str) -> None:
    far = "https://elsewhere.example/" + "x" * 5000
    async with LocalServer([moved(301, far)]) as server:
        reply = await complete(server.model(), CTX, transport=transport)
    assert reply.error_message is not None
    assert f"redirects to {far[:500]}…, and tinyagent" in reply.error_message
