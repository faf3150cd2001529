"""The ``openai-chat`` provider: any OpenAI-compatible ``/chat/completions`` endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import ProviderError
from .._json import loads
from .._messages import Context, Model
from .._wording import ENDED_BEFORE_FINISH
from ._failures import failure_from_error_object
from ._openai_chat_parser import OpenAIChatParser, chat_stop_verdict
from ._openai_chat_request import WireCache, build_body_bytes
from ._protocol import StopVerdict

if TYPE_CHECKING:
    from .._request import PreparedRequest, StreamOptions

__all__ = ["OpenAIChatProvider"]


class OpenAIChatProvider:
    api = "openai-chat"
    native_format = "openai-chat"
    no_finish = ENDED_BEFORE_FINISH

    def new_request_cache(self) -> WireCache:
        return WireCache()

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from .._request import PreparedRequest, base_headers

        body = build_body_bytes(
            model,
            context,
            cache if isinstance(cache, WireCache) else None,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
            reasoning_effort=options.reasoning_effort,
            tool_choice=options.tool_choice,
            extra_body=options.extra_body,
            session_id=options.session_id,
        )
        headers, key = base_headers(model, options)
        if key:
            headers["authorization"] = f"Bearer {key}"
        return PreparedRequest(model.base_url.rstrip("/") + "/chat/completions", headers, body)

    def payload_parser(self, model: Model, options: StreamOptions) -> OpenAIChatParser:
        return OpenAIChatParser(model, options.max_argument_bytes)

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return chat_stop_verdict(reason, has_tool_calls)

    def stream_error(self, payload: bytes, model: Model) -> ProviderError:
        return failure_from_error_object(loads(payload).get("error"), model.provider_name, model.id)
