"""A call refused before any request: a model that needs a key with none set.

Without this, the request goes out without a key and the provider's 401 comes back as
the reason — or, on a local server that ignores keys, nothing does. The reply says
which variable to set instead, and the call costs no round trip.
"""

from __future__ import annotations

from ..messages import (
    SECRET_HEADERS,
    AssistantMessage,
    Failure,
    FailureKind,
    Model,
    ProviderError,
    StopReason,
    StreamEvent,
)
from ..wire import ByteParser, PreparedRequest, StreamOptions, resolve_api_key

__all__ = ["RefusedSource", "missing_key"]


def missing_key(
    model: Model, options: StreamOptions, request: PreparedRequest
) -> ProviderError | None:
    """Why the call cannot be made (its key variable is not set), or None."""
    if model.api_key_env is None or resolve_api_key(model, options) is not None:
        return None
    if any(name.lower() in SECRET_HEADERS for name in request.headers):
        return None  # credentials given as a header of the user's own
    from ..providers import provider_for

    hint = str(getattr(provider_for(model), "credentials_hint", ""))
    message = (
        f"no API key for {model.provider_name}: set {model.api_key_env}{hint}, or pass "
        "api_key=... (to the Model or the call); nothing was sent"
    )
    failure = Failure(FailureKind.AUTHENTICATION, code="missing_key")
    return ProviderError(message, provider=model.provider_name, model=model.id, failure=failure)


class RefusedSource:
    """An event source that ends at once, in failure, having sent nothing."""

    def __init__(self, parser: ByteParser, error: ProviderError) -> None:
        self._parser = parser
        self._events = parser.fail(error.message, error=error)

    @property
    def message(self) -> AssistantMessage | None:
        return self._parser.message

    async def next_batch(self) -> list[StreamEvent]:
        out, self._events = self._events, []
        return out

    def abort(
        self, message: str, stop_reason: StopReason, error: BaseException | None = None
    ) -> list[StreamEvent]:
        return []

    async def aclose(self) -> None:
        return None
