"""One grammar for naming a model in every command: ``provider:model``, ``--base-url``
to override its endpoint (where a bare id is taken too), ``local`` for the built-in
local server."""

from __future__ import annotations

from typing import Any

from ..catalogue import PROVIDERS
from ..messages import Model

__all__ = ["LOCAL", "model_for", "split_name"]

LOCAL = "local"
"""``--base-url local``: the built-in local server."""


def split_name(name: str) -> tuple[str | None, str]:
    """``("openai", "gpt-4o-mini")`` for a name with a known provider; ``(None, name)``
    for a bare id (``qwen3:8b``, an Ollama tag, has a colon but no provider)."""
    provider, sep, rest = name.partition(":")
    if sep and rest and provider.lower() in PROVIDERS:
        return provider.lower(), rest
    return None, name


def model_for(
    name: str, base_url: str | None, *, api: str | None = None, api_key_env: str | None = None
) -> Model:
    """The model a command was given. Without ``base_url`` the name must be
    ``provider:model`` (``Model.from_name`` says so, and lists the providers, if not);
    with one, a provider's name keeps its wire format and key variable at that URL,
    and a bare id speaks ``api`` (default ``openai-chat``)."""
    overrides: dict[str, Any] = {}
    if api is not None:
        overrides["api"] = api
    if api_key_env is not None:
        overrides["api_key_env"] = api_key_env
    if base_url is None:
        return Model.from_name(name, **overrides)
    provider, _ = split_name(name)
    if provider is not None:
        return Model.from_name(name, base_url=base_url, **overrides)
    overrides.setdefault("api", "openai-chat")
    return Model(name, base_url, **overrides)
