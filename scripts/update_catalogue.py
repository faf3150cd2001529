"""Regenerate ``tinyagent/catalogue/_prices.json`` from the ``genai-prices`` package.

    python -m venv /tmp/gp && /tmp/gp/bin/pip install genai-prices
    /tmp/gp/bin/python scripts/update_catalogue.py

Prices and context windows come from a maintained source instead of a hand-typed table;
the snapshot records the package version and the date it was taken. Only the providers
the catalogue knows (``tinyagent/catalogue/_providers.py``) are kept. Prices are dollars
per million tokens. A tiered price keeps its tiers (the tier is chosen by the prompt's
size); of date-conditional prices the one in force today is kept; time-of-day prices
(off-peak discounts) keep their default price.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

from genai_prices import data, types

ROOT = Path(__file__).resolve().parent.parent


def _providers() -> Any:
    # Loaded by path: importing the package would need all of tinyagent's dependencies
    # in the environment that has genai-prices (attrs is enough).
    spec = importlib.util.spec_from_file_location(
        "_providers", ROOT / "tinyagent" / "catalogue" / "_providers.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_providers"] = module
    spec.loader.exec_module(module)
    return module.PROVIDERS


FIELDS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
}


def _match(m: Any) -> Any:
    if isinstance(m, types.ClauseEquals):
        return {"equals": m.equals}
    if isinstance(m, types.ClauseStartsWith):
        return {"starts_with": m.starts_with}
    if isinstance(m, types.ClauseEndsWith):
        return {"ends_with": m.ends_with}
    if isinstance(m, types.ClauseContains):
        return {"contains": m.contains}
    if isinstance(m, types.ClauseRegex):
        return {"regex": m.regex}
    if isinstance(m, types.ClauseOr):
        return {"or": [_match(c) for c in m.or_]}
    if isinstance(m, types.ClauseAnd):
        return {"and": [_match(c) for c in m.and_]}
    raise TypeError(f"unknown match clause {m!r}")


def _number(value: Decimal) -> float:
    return float(value)


def _price(p: Any) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    tiers: dict[int, dict[str, float]] = {}
    for name, ours in FIELDS.items():
        value = getattr(p, name, None)
        if value is None:
            continue
        if isinstance(value, types.TieredPrices):
            out[ours] = _number(value.base)
            for tier in value.tiers:
                tiers.setdefault(int(tier.start), {})[ours] = _number(tier.price)
        else:
            out[ours] = _number(value)
    if "input" not in out or "output" not in out:
        return None  # priced by something else (requests, images): not ours to say
    if tiers:
        out["tiers"] = [{"start": start, **prices} for start, prices in sorted(tiers.items())]
    return out


def _current(prices: Any, today: dt.date) -> Any:
    if not isinstance(prices, list):
        return prices
    chosen = prices[0].prices
    for cp in prices:
        c = cp.constraint
        if c is None:
            chosen = cp.prices
        elif isinstance(c, types.StartDateConstraint):
            start = c.start_date.date() if isinstance(c.start_date, dt.datetime) else c.start_date
            if start <= today:
                chosen = cp.prices
    return chosen


def main() -> None:
    today = dt.date.today()
    wanted = {p.prices for p in _providers().values() if p.prices}
    out: dict[str, Any] = {}
    for provider in data.providers:
        if provider.id not in wanted:
            continue
        models = []
        for m in provider.models:
            price = _price(_current(m.prices, today))
            entry: dict[str, Any] = {"id": m.id, "match": _match(m.match)}
            if m.context_window:
                entry["context_window"] = m.context_window
            if price is not None:
                entry["price"] = price
            models.append(entry)
        out[provider.id] = models
    snapshot = {
        "source": f"genai-prices {version('genai-prices')}",
        "date": today.isoformat(),
        "providers": out,
    }
    target = ROOT / "tinyagent" / "catalogue" / "_prices.json"
    target.write_text(json.dumps(snapshot, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{target}: {sum(len(v) for v in out.values())} models from {snapshot['source']}")


if __name__ == "__main__":
    main()
