"""The ``anthropic-messages`` provider: Anthropic's Messages API, and the endpoints that
speak it (Kimi, MiniMax, DeepSeek's and OpenRouter's Anthropic endpoints)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._json import dumps
from .._messages import Context, Model
from .._wording import ENDED_BEFORE_MESSAGE_STOP
from ._anthropic_parser import AnthropicParser, anthropic_stop_verdict
from ._anthropic_request import ANTHROPIC_VERSION, build_body
from ._failures import SharedFailureRules
from ._protocol import StopVerdict

if TYPE_CHECKING:
    from .._request import PreparedRequest, StreamOptions

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

    def new_request_cache(self) -> None:
        return None

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from .._request import PreparedRequest, base_headers

        body = build_body(
            model,
            context,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
            reasoning_effort=options.reasoning_effort,
            tool_choice=options.tool_choice,
            extra_body=options.extra_body,
            cache=options.cache,
            session_id=options.session_id,
        )
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
        return PreparedRequest(url, headers, dumps(body))

    def payload_parser(self, model: Model, options: StreamOptions) -> AnthropicParser:
        return AnthropicParser(model, options.max_argument_bytes, self.stop_verdict)

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return anthropic_stop_verdict(reason, has_tool_calls)
