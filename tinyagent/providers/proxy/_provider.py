"""The ``proxy`` provider: model calls through a relay that holds the keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._util.json import loads
from ..._util.wording import ENDED_BEFORE_DONE
from ...messages import Context, Model, ProviderError
from .._failures import SharedFailureRules
from .._protocol import StopVerdict
from ._parser import ProxyParser, proxy_stop_verdict, relay_failure
from ._request import build_body, stream_url

if TYPE_CHECKING:
    from ...wire import PreparedRequest, StreamOptions

__all__ = ["ProxyProvider"]


class ProxyProvider(SharedFailureRules):
    """``Model(id, base_url=<the relay's root>, api="proxy", provider=<the relay's name
    for the provider>, api_key=<the relay's token>)``: the token is sent as
    ``Authorization: Bearer``; the relay adds the provider's key."""

    api = "proxy"
    native_format = "proxy"
    no_finish = ENDED_BEFORE_DONE
    takes_thinking_budget = False
    takes_response_format = False

    def new_request_cache(self) -> None:
        return None

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from ...wire import PreparedRequest, base_headers

        body = build_body(model, context, **options.body_settings())
        headers, key = base_headers(model, options)
        if key:
            headers["authorization"] = f"Bearer {key}"
        return PreparedRequest(stream_url(model), headers, body)

    def payload_parser(self, model: Model, options: StreamOptions) -> ProxyParser:
        return ProxyParser(model, options.max_argument_bytes, self.stop_verdict)

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return proxy_stop_verdict(reason, has_tool_calls)

    def stream_error(self, payload: bytes, model: Model) -> ProviderError:
        """An ``error`` event (the native core hands its payload over)."""
        return relay_failure(loads(payload), model.provider_name, model.id)
