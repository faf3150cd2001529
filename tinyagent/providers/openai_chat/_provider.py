"""The ``openai-chat`` provider: any OpenAI-compatible ``/chat/completions`` endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._util.json import dumps
from ..._util.wording import ENDED_BEFORE_FINISH
from ...messages import Context, Model
from .._failures import SharedFailureRules
from .._protocol import StopVerdict
from ._cache import accepts_cache_markers, mark_chat_body
from ._parser import OpenAIChatParser, chat_stop_verdict
from ._request import WireCache, build_body, build_body_bytes
from ._whole import chat_whole_reply

if TYPE_CHECKING:
    from ...wire import PreparedRequest, StreamOptions

__all__ = ["OpenAIChatProvider"]


class OpenAIChatProvider(SharedFailureRules):
    api = "openai-chat"
    native_format = "openai-chat"
    no_finish = ENDED_BEFORE_FINISH
    takes_thinking_budget = False
    takes_response_format = True

    def new_request_cache(self) -> WireCache:
        return WireCache()

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from ...wire import PreparedRequest, base_headers

        knobs = options.body_settings()
        mode = options.cache or model.cache
        if accepts_cache_markers(model, mode):
            # Markers move with the newest messages, so the history is encoded afresh.
            whole = build_body(model, context, **knobs)
            mark_chat_body(whole, mode)
            body = dumps(whole)
        else:
            history = cache if isinstance(cache, WireCache) else None
            body = build_body_bytes(model, context, history, **knobs)
        headers, key = base_headers(model, options)
        if key:
            headers["authorization"] = f"Bearer {key}"
        return PreparedRequest(model.base_url.rstrip("/") + "/chat/completions", headers, body)

    def payload_parser(self, model: Model, options: StreamOptions) -> OpenAIChatParser:
        return OpenAIChatParser(model, options.max_argument_bytes, self.stop_verdict)

    def whole_reply_payloads(self, obj: object) -> list[bytes] | None:
        """A whole reply (JSON where a stream was asked for) as stream payloads."""
        return chat_whole_reply(obj)

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return chat_stop_verdict(reason, has_tool_calls)
