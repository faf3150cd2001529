"""Models by name: ``"openai:gpt-4o-mini"`` instead of a base URL, a wire format and a
key variable, with prices and context windows from a maintained source.

``Model.from_name(name)`` (and a string wherever a ``Model`` is taken) splits the name
at the first colon: the provider (one of :data:`PROVIDERS`) gives the base URL, the wire
format and the key variable; the price snapshot gives the cost per million tokens and
the context window. A model the snapshot lacks still works, with no price (``Usage.cost``
stays None): never a guessed price. The snapshot's source and date are
:func:`prices_source` and :func:`prices_date`.

It imports only ``messages`` (and installs itself as ``Model.from_name``'s resolver);
every room above may read it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..messages import Model, install_name_resolver
from ._prices import CatalogueEntry, find, snapshot
from ._providers import PROVIDERS, ProviderInfo

__all__ = [
    "PROVIDERS",
    "CatalogueEntry",
    "ProviderInfo",
    "as_model",
    "lookup",
    "model_from_name",
    "prices_date",
    "prices_source",
]


def prices_source() -> str:
    """Where the prices come from (``genai-prices <version>``)."""
    return str(snapshot()["source"])


def prices_date() -> str:
    """The day the price snapshot was taken (ISO date)."""
    return str(snapshot()["date"])


def _provider(name: str) -> ProviderInfo:
    info = PROVIDERS.get(name.lower())
    if info is None:
        raise ValueError(
            f"unknown provider {name!r} in a model name: known providers are "
            f"{', '.join(PROVIDERS)} (or build a Model with base_url= for any other endpoint)"
        )
    return info


def lookup(provider: str, model: str) -> CatalogueEntry | None:
    """What the catalogue knows of ``model`` at ``provider``, or None."""
    info = _provider(provider)
    return find(info.prices, model) if info.prices else None


def model_from_name(name: str, **overrides: Any) -> Model:
    """``"provider:model"`` as a :class:`Model`; keyword arguments override any field
    (``base_url=`` for a local server elsewhere, ``api_key=``, ``max_tokens=``…)."""
    provider, sep, model_id = name.partition(":")
    if not sep or not provider or not model_id:
        raise ValueError(
            f"a model name is 'provider:model', such as 'openai:gpt-4o-mini', got {name!r}; "
            f"known providers: {', '.join(PROVIDERS)}"
        )
    info = _provider(provider)
    base_url = _base_url(info)
    if "{region}" in base_url:
        region, model_id = _region(info, model_id)
        base_url = base_url.replace("{region}", region)
    entry = find(info.prices, model_id) if info.prices else None
    fields: dict[str, Any] = {
        "id": model_id,
        "base_url": base_url,
        "api": info.api,
        "api_key_env": _key_env(info),
        "provider": info.name,
        "context_window": entry.context_window if entry else None,
        "cost": entry.cost if entry else None,
    }
    fields.update(overrides)
    return Model(**fields)


_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")


def _region(info: ProviderInfo, model_id: str) -> tuple[str, str]:
    """The region of a regional provider's model (``bedrock:us-west-2/anthropic.…``),
    else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``; and the model id without it."""
    head, sep, rest = model_id.partition("/")
    if sep and _REGION.fullmatch(head):
        return head, rest
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ValueError(
            f"{info.name} needs a region: name it in the model ({info.name}:us-east-1/"
            f"{model_id}) or set AWS_REGION"
        )
    return region, model_id


def _key_env(info: ProviderInfo) -> str | None:
    """The provider's key variable, or another it also reads when only that one is set."""
    if info.key_env is None or os.environ.get(info.key_env):
        return info.key_env
    return next((e for e in info.other_key_envs if os.environ.get(e)), info.key_env)


def _base_url(info: ProviderInfo) -> str:
    """The provider's endpoint, or the one its ``*_BASE_URL`` variable names."""
    moved = os.environ.get(info.base_url_env, "").strip() if info.base_url_env else ""
    if not moved:
        return info.base_url
    return moved.rstrip("/") + info.base_url_suffix


def as_model(value: Model | str) -> Model:
    """A :class:`Model`, or a ``"provider:model"`` name made into one."""
    if isinstance(value, str):
        return model_from_name(value)
    if not isinstance(value, Model):
        raise TypeError(
            f"a model is a Model or a 'provider:model' name such as 'openai:gpt-4o-mini', "
            f"got {type(value).__name__}"
        )
    return value


install_name_resolver(model_from_name)
