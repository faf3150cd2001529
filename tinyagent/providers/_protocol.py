"""What a provider is: one wire format, plugged into every transport.

A provider builds the request (URL, auth headers, body), makes the pure parser (and
names the native core's mode for the same format), maps the provider's stop reasons,
words its in-stream errors and owns its per-run request cache. Transports move bytes
and never look inside them; the loop never imports a provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..messages import Context, Model
from ..wire import ByteParser, PayloadParser, StopVerdict

if TYPE_CHECKING:
    from ..messages import ProviderError
    from ..wire import PreparedRequest, StreamOptions

__all__ = ["ByteParser", "PayloadParser", "Provider", "StopVerdict"]


class Provider(Protocol):
    """One wire format (``Model.api``). Implementations are stateless singletons."""

    api: str
    native_format: str
    """The native core's mode for this format (``ChatStreamParser(..., format)``)."""
    no_finish: str
    """The words for a body that ended without the format's end marker."""
    takes_thinking_budget: bool
    """Whether reasoning is asked for as a token budget (Anthropic) rather than an effort
    level: ``Agent.thinking_budgets`` applies only then."""
    takes_response_format: bool
    """Whether a JSON-schema ``response_format`` is sent (structured output's ``native``
    mode); without it, structured output uses a final-answer tool."""

    def new_request_cache(self) -> object | None:
        """State reused across the requests of one run (encoded history), or None."""
        ...

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest: ...

    def payload_parser(self, model: Model, options: StreamOptions) -> PayloadParser: ...

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict: ...

    def stream_error(self, payload: bytes, model: Model) -> ProviderError:
        """The error of an in-stream error payload (the native core hands it over)."""
        ...

    def http_error(
        self, model: Model, status: int, body: bytes, retry_after: str | None
    ) -> ProviderError:
        """The error of an HTTP error answer, classified (``.failure``)."""
        ...
