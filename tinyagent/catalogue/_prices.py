"""The price snapshot (``_prices.json``, made by ``scripts/update_catalogue.py``):
loaded once, on first use, and matched the way genai-prices matches a model name."""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import attrs

from ..messages import CostTier, ModelCost

__all__ = ["CatalogueEntry", "find", "snapshot"]


@attrs.frozen
class CatalogueEntry:
    """What the catalogue knows of one model: its id there, its context window, its
    price (None when it is not priced per token)."""

    id: str
    context_window: int | None
    cost: ModelCost | None


@functools.cache
def snapshot() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("_prices.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _matches(clause: dict[str, Any], ref: str) -> bool:
    if "equals" in clause:
        return ref == str(clause["equals"])
    if "starts_with" in clause:
        return ref.startswith(str(clause["starts_with"]))
    if "ends_with" in clause:
        return ref.endswith(str(clause["ends_with"]))
    if "contains" in clause:
        return str(clause["contains"]) in ref
    if "regex" in clause:
        return re.search(str(clause["regex"]), ref) is not None
    if "or" in clause:
        return any(_matches(c, ref) for c in clause["or"])
    if "and" in clause:
        return all(_matches(c, ref) for c in clause["and"])
    return False


def _cost(price: dict[str, Any] | None) -> ModelCost | None:
    if price is None:
        return None
    tiers = tuple(
        CostTier(
            t["start"],
            t.get("input", price["input"]),
            t.get("output", price["output"]),
            t.get("cache_read", price.get("cache_read", 0.0)),
            t.get("cache_write", price.get("cache_write", 0.0)),
        )
        for t in price.get("tiers", ())
    )
    return ModelCost(
        price["input"],
        price["output"],
        price.get("cache_read", 0.0),
        price.get("cache_write", 0.0),
        tiers=tiers,
    )


def find(prices_id: str, model: str) -> CatalogueEntry | None:
    """The first model of the provider whose match takes ``model`` (lower-cased)."""
    ref = model.lower()
    for entry in snapshot()["providers"].get(prices_id, ()):
        if _matches(entry["match"], ref):
            return CatalogueEntry(
                entry["id"], entry.get("context_window"), _cost(entry.get("price"))
            )
    return None
