"""Providers by ``Model.api``: one registry, so shared code never branches on the api."""

from __future__ import annotations

from ._protocol import Provider

__all__ = ["get_provider", "known_apis", "register_provider"]

_PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Make ``provider`` serve models whose ``api`` is ``provider.api``."""
    _PROVIDERS[provider.api] = provider


def known_apis() -> tuple[str, ...]:
    return tuple(_PROVIDERS)


def get_provider(api: str) -> Provider:
    try:
        return _PROVIDERS[api]
    except KeyError:
        hint = _SEED_NAMES.get(api)
        raise ValueError(
            f"unknown model api {api!r}: this version of tinyagent speaks "
            f"{', '.join(known_apis())}" + (f" ({hint})" if hint else "")
        ) from None


# The seed project's names for wire formats, with ours.
_SEED_NAMES = {
    "openai-completions": "tiny-agent-os called chat completions 'openai-completions'; "
    "here it is 'openai-chat'",
    "anthropic": "use 'anthropic-messages'",
    "openai": "use 'openai-chat' (chat completions) or 'openai-responses'",
}
