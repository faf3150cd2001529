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
        raise ValueError(
            f"unknown model api {api!r}: this version of tinyagent speaks {', '.join(known_apis())}"
        ) from None
