"""The ``openai-responses`` provider: OpenAI's Responses API (``/responses``), and the
servers that speak it (vLLM, OpenRouter, Azure, LiteLLM, DeepSeek)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._util.json import loads
from ..._util.wording import ENDED_BEFORE_RESPONSE_DONE
from ...messages import Context, Model, ProviderError
from .._failures import SharedFailureRules, failure_from_error_object
from .._protocol import StopVerdict
from ._parser import ResponsesParser, error_of_event, responses_stop_verdict
from ._request import ResponsesWireCache, build_body_bytes
from ._whole import responses_whole_reply

if TYPE_CHECKING:
    from ...wire import PreparedRequest, StreamOptions

__all__ = ["OpenAIResponsesProvider"]


class OpenAIResponsesProvider(SharedFailureRules):
    api = "openai-responses"
    native_format = "openai-responses"
    no_finish = ENDED_BEFORE_RESPONSE_DONE
    takes_thinking_budget = False
    takes_response_format = True

    def new_request_cache(self) -> ResponsesWireCache:
        return ResponsesWireCache()

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from ...wire import PreparedRequest, base_headers

        knobs = options.body_settings()
        history = cache if isinstance(cache, ResponsesWireCache) else None
        body = build_body_bytes(model, context, history, **knobs)
        headers, key = base_headers(model, options)
        if key:
            headers["authorization"] = f"Bearer {key}"
        return PreparedRequest(model.base_url.rstrip("/") + "/responses", headers, body)

    def stream_error(self, payload: bytes, model: Model) -> ProviderError:
        """The error of an ``error`` event or a failed response (the native core hands
        over the payload; the pure parser reads it with the same function)."""
        err = error_of_event(loads(payload))
        return failure_from_error_object(err, model.provider_name, model.id)

    def payload_parser(self, model: Model, options: StreamOptions) -> ResponsesParser:
        return ResponsesParser(model, options.max_argument_bytes, self.stop_verdict)

    def whole_reply_payloads(self, obj: object) -> list[bytes] | None:
        """A whole reply (JSON where a stream was asked for) as stream payloads."""
        return responses_whole_reply(obj)

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return responses_stop_verdict(reason, has_tool_calls)
