"""A provider is a protocol and a registry entry: a format registered from outside plugs
into every transport, and its request and error classification are the ones used."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import tinyagent
from tinyagent import Context, Failure, FailureKind, ProviderError, UserMessage
from tinyagent.providers import (
    OpenAIChatProvider,
    _registry,
    get_provider,
    known_apis,
    register_provider,
)
from tinyagent.testing import LocalServer, Reply, text_reply

pytestmark = pytest.mark.anyio
CTX = Context(messages=[UserMessage("hi")])


class GatewayProvider(OpenAIChatProvider):
    """A chat-completions gateway with its own path, key header and error rule."""

    api = "gateway-chat"

    def build_request(self, model: Any, context: Any, options: Any, cache: Any) -> Any:
        req = super().build_request(model, context, options, cache)
        headers = {k: v for k, v in req.headers.items() if k != "authorization"}
        headers["x-gateway-key"] = "k"
        url = req.url.replace("/chat/completions", "/gw/chat/completions")
        return type(req)(url, headers, req.body)

    def http_error(
        self, model: Any, status: int, body: bytes, retry_after: str | None
    ) -> ProviderError:
        err = super().http_error(model, status, body, retry_after)
        if status == 418:  # this gateway's way of saying "not on your plan"
            err.failure = Failure(FailureKind.PERMISSION, 418, "plan")
        return err


@pytest.fixture
def gateway() -> Iterator[None]:
    register_provider(GatewayProvider())
    yield
    _registry._PROVIDERS.pop("gateway-chat", None)


@pytest.mark.usefixtures("gateway")
async def test_a_registered_provider_runs_on_every_transport(transport: str) -> None:
    assert "gateway-chat" in known_apis() and isinstance(
        get_provider("gateway-chat"), GatewayProvider
    )
    teapot = Reply(
        status=418, body=b'{"error": {"message": "upgrade"}}', content_type="application/json"
    )
    async with LocalServer([text_reply("via gateway"), teapot]) as server:
        model = server.model(api="gateway-chat", api_key="secret")
        ok = await tinyagent.complete(model, CTX, transport=transport)
        refused = await tinyagent.complete(model, CTX, transport=transport, max_retries=0)
    assert ok.text == "via gateway" and ok.api == "gateway-chat"
    req = server.requests[0]
    assert req.path == "/v1/gw/chat/completions"
    assert req.headers["x-gateway-key"] == "k" and "authorization" not in req.headers
    assert refused.failure == Failure(FailureKind.PERMISSION, 418, "plan")


def test_an_unknown_api_names_the_known_ones() -> None:
    # Refused where the model is made, before any call.
    with pytest.raises(
        ValueError,
        match="unknown model api 'nope': this version of tinyagent speaks openai-chat, anthropic-messages",
    ):
        tinyagent.Model("m", "http://127.0.0.1:9/v1", api="nope")  # type: ignore[arg-type]
