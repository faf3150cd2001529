"""What an output file records as spent, for a budget that covers the file as a whole:
a resumed run starts its account from it, and ``batch status`` shows it.

Every line carries its item's usage (the run's whole usage for an agent item) and the
number of requests it sent; its cost is the one recorded, or the usage priced as the
budget prices it (prices given for a model the catalogue lacks are recorded nowhere
else). A line whose error is ``budget`` is an agent item the budget stopped part way:
it is run again on resume, and what it had spent is carried in the sidecar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..messages import Spend, Usage
from ._formats import Format

__all__ = ["RowSpend", "budget_stopped", "row_spend", "spend_from_json", "spend_to_json"]

RowSpend = Callable[[dict[str, Any]], Spend]
"""An output row's spend, priced."""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def row_usage(row: Mapping[str, Any], fmt: Format) -> tuple[Usage, float | None, int]:
    """(usage, the cost recorded or None, requests sent) of an output row."""
    if fmt == "openai-batch":
        response = row.get("response")
        if not isinstance(response, dict):
            return Usage(), None, 0  # never answered: nothing sent that was charged
        body = response.get("body")
        u = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(u, dict):
            return Usage(), None, 1
        details = u.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
        prompt = _int(u.get("prompt_tokens"))
        return Usage(max(0, prompt - cached), _int(u.get("completion_tokens")), cached), None, 1
    u = row.get("usage")
    usage = Usage()
    if isinstance(u, dict):
        usage = Usage(
            _int(u.get("input")),
            _int(u.get("output")),
            _int(u.get("cache_read")),
            _int(u.get("cache_write")),
            _int(u.get("reasoning")),
        )
    cost = row.get("cost")
    recorded = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None
    requests = row.get("requests")
    if not isinstance(requests, int) or isinstance(requests, bool):
        attempts = row.get("attempts")  # lines written before "requests" was recorded
        requests = attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0
    return usage, recorded, max(0, requests)


def row_spend(row: Mapping[str, Any], fmt: Format, price: Callable[[Usage], float]) -> Spend:
    usage, cost, requests = row_usage(row, fmt)
    if cost is None:
        cost = price(usage) if usage.input or usage.output or usage.cache_read else 0.0
    prompt = usage.input + usage.cache_read + usage.cache_write
    return Spend(cost, prompt, usage.output, requests)


def budget_stopped(row: Mapping[str, Any], fmt: Format) -> bool:
    """Whether the row is an agent item its budget stopped part way (run again)."""
    error = row.get("error")
    if not isinstance(error, dict):
        return False
    return error.get("kind" if fmt == "tinyagent" else "code") == "budget"


def spend_to_json(spend: Spend) -> dict[str, Any]:
    return {
        "cost": spend.cost,
        "input": spend.input,
        "output": spend.output,
        "requests": spend.requests,
    }


def spend_from_json(data: Any) -> Spend:
    if not isinstance(data, dict):
        return Spend()
    cost = data.get("cost")
    return Spend(
        float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0,
        _int(data.get("input")),
        _int(data.get("output")),
        _int(data.get("requests")),
    )
