"""Providers by ``Model.api``: one registry, so shared code never branches on the api."""

from __future__ import annotations

from ..messages import Context, Model
from ..wire import PreparedRequest, StreamOptions
from ._protocol import Provider

__all__ = [
    "framing_of",
    "get_provider",
    "known_apis",
    "prepare_request",
    "provider_for",
    "register_provider",
    "takes_response_format",
    "takes_thinking_budget",
]

_PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Make ``provider`` serve models whose ``api`` is ``provider.api``."""
    _PROVIDERS[provider.api] = provider


def known_apis() -> tuple[str, ...]:
    return tuple(_PROVIDERS)


def unknown_api(api: str) -> str | None:
    """Why ``api`` is no wire format a provider serves, or None if one does."""
    if api in _PROVIDERS:
        return None
    hint = _SEED_NAMES.get(api)
    return (
        f"unknown model api {api!r}: this version of tinyagent speaks "
        f"{', '.join(known_apis())}"
        + (f" ({hint})" if hint else "")
        + " (register_provider adds others)"
    )


def get_provider(api: str) -> Provider:
    try:
        return _PROVIDERS[api]
    except KeyError:
        raise ValueError(unknown_api(api)) from None


# The seed project's names for wire formats, with ours.
_SEED_NAMES = {
    "openai-completions": "tiny-agent-os called chat completions 'openai-completions'; "
    "here it is 'openai-chat'",
    "anthropic": "use 'anthropic-messages'",
    "openai": "use 'openai-chat' (chat completions) or 'openai-responses'",
}


def provider_for(model: Model) -> Provider:
    """The provider of ``model``'s wire format (``model.api``): the one place outside a
    provider that reads it."""
    return get_provider(model.api)


def takes_thinking_budget(model: Model) -> bool:
    """Whether ``model``'s provider takes reasoning as a token budget (a provider
    written before this capability existed: no)."""
    return bool(getattr(provider_for(model), "takes_thinking_budget", False))


def framing_of(provider: Provider) -> str:
    """How ``provider``'s streamed bodies are framed: ``"sse"`` (a provider written
    before this capability existed: yes) or ``"aws-eventstream"``."""
    return str(getattr(provider, "framing", "sse"))


def takes_response_format(model: Model) -> bool:
    """Whether ``model``'s provider sends a JSON-schema response format (a provider
    written before this capability existed: yes, as chat completions does)."""
    return bool(getattr(provider_for(model), "takes_response_format", True))


def prepare_request(model: Model, context: Context, options: StreamOptions) -> PreparedRequest:
    """The request for one call (URL, headers, body), built by the model's provider,
    reusing the encoded history in ``options.wire_cache`` when given."""
    provider = provider_for(model)
    cache = options.wire_cache.for_provider(provider) if options.wire_cache is not None else None
    return provider.build_request(model, context, options, cache)
