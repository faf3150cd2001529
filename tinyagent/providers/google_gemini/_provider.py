"""The ``google-gemini`` provider: Google's Gemini API (``streamGenerateContent``)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..._util.json import dumps
from ..._util.wording import ENDED_BEFORE_FINISH
from ...messages import Context, Model, ProviderError
from .._failures import SharedFailureRules, http_failure
from .._protocol import StopVerdict
from ._parser import GeminiParser, gemini_stop_verdict
from ._request import build_body, stream_url

if TYPE_CHECKING:
    from ...wire import PreparedRequest, StreamOptions

__all__ = ["GeminiProvider", "retry_delay"]

_SECONDS = re.compile(r"\s*(\d+(?:\.\d+)?)s\s*")


def retry_delay(body: bytes) -> str | None:
    """The wait a Gemini error body asks for (``google.rpc.RetryInfo.retryDelay``, e.g.
    ``"34.4s"``), as a ``Retry-After`` value; None when it names none."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return None
    err = data.get("error") if isinstance(data, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            m = _SECONDS.fullmatch(str(detail.get("retryDelay", "")))
            if m is not None:
                return m.group(1)
    return None


class GeminiProvider(SharedFailureRules):
    api = "google-gemini"
    native_format = "google-gemini"
    no_finish = ENDED_BEFORE_FINISH
    takes_thinking_budget = True
    takes_response_format = True

    def new_request_cache(self) -> None:
        return None

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from ...wire import PreparedRequest, base_headers

        body = dumps(build_body(model, context, **options.body_settings()))
        headers, key = base_headers(model, options)
        if key:
            headers["x-goog-api-key"] = key  # never in the URL, where logs would keep it
        return PreparedRequest(stream_url(model), headers, body)

    def payload_parser(self, model: Model, options: StreamOptions) -> GeminiParser:
        return GeminiParser(model, options.max_argument_bytes, self.stop_verdict)

    def whole_reply_payloads(self, obj: object) -> list[bytes] | None:
        """A whole reply (``generateContent``'s one response, or the JSON array the
        stream endpoint answers without ``alt=sse``) as stream payloads."""
        replies: list[Any] = obj if isinstance(obj, list) else [obj]
        if not replies or not all(
            isinstance(r, dict) and ("candidates" in r or "usageMetadata" in r) for r in replies
        ):
            return None
        return [dumps(r) for r in replies]

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return gemini_stop_verdict(reason, has_tool_calls)

    def http_error(
        self, model: Model, status: int, body: bytes, retry_after: str | None
    ) -> ProviderError:
        """Classified as every provider's; the wait is ``Retry-After``, else the body's
        ``RetryInfo.retryDelay``."""
        return http_failure(model, status, body, retry_after or retry_delay(body))
