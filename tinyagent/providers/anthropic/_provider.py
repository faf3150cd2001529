"""The ``anthropic-messages`` provider: Anthropic's Messages API, and the endpoints that
speak it (Kimi, MiniMax, DeepSeek's and OpenRouter's Anthropic endpoints)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._util.json import dumps
from ..._util.wording import ENDED_BEFORE_MESSAGE_STOP
from ...messages import Context, Model
from .._failures import SharedFailureRules
from .._protocol import StopVerdict
from ._parser import AnthropicParser, anthropic_stop_verdict
from ._request import ANTHROPIC_VERSION, build_body, cache_marker
from ._whole import anthropic_whole_reply
from ._wire import AnthropicWireCache

if TYPE_CHECKING:
    from ...wire import PreparedRequest, StreamOptions

__all__ = ["AnthropicProvider"]


def _join_betas(*values: str | None) -> str:
    seen: list[str] = []
    for value in values:
        for beta in (value or "").split(","):
            beta = beta.strip()
            if beta and beta not in seen:
                seen.append(beta)
    return ",".join(seen)


class AnthropicProvider(SharedFailureRules):
    api = "anthropic-messages"
    native_format = "anthropic-messages"
    no_finish = ENDED_BEFORE_MESSAGE_STOP
    takes_thinking_budget = True
    takes_response_format = False

    def new_request_cache(self) -> AnthropicWireCache:
        return AnthropicWireCache()

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from ...wire import PreparedRequest, base_headers

        settings = {**options.body_settings(), "cache": options.cache}
        if isinstance(cache, AnthropicWireCache) and "messages" not in (options.extra_body or {}):
            # The history encoded once across requests, spliced into the rest of the body.
            head = build_body(model, Context(context.system_prompt, [], context.tools), **settings)
            head.pop("messages")
            marker = cache_marker(options.cache or model.cache)
            history = cache.encode(context.messages, model, marker)
            body = b"".join([b'{"messages":[', *history, b"],", dumps(head)[1:]])
        else:
            body = dumps(build_body(model, context, **settings))
        headers, key = base_headers(model, options)
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        betas = _join_betas(
            model.headers.get("anthropic-beta"), (options.headers or {}).get("anthropic-beta")
        )
        if betas:
            headers["anthropic-beta"] = betas
        if key:
            headers["x-api-key"] = key
        url = model.base_url.rstrip("/") + "/messages"
        return PreparedRequest(url, headers, body)

    def payload_parser(self, model: Model, options: StreamOptions) -> AnthropicParser:
        return AnthropicParser(model, options.max_argument_bytes, self.stop_verdict)

    def whole_reply_payloads(self, obj: object) -> list[bytes] | None:
        """A whole reply (JSON where a stream was asked for) as stream payloads."""
        return anthropic_whole_reply(obj)

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return anthropic_stop_verdict(reason, has_tool_calls)
