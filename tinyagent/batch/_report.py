"""What a batch tells while it runs and when it ends: progress, and the summary that
``tinyagent batch status`` also prints from an output file (finished or running)."""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import anyio
import attrs

from .._util.json import loads
from ..budget import Budget
from ._formats import row_failed
from ._journal import summarise_rows
from ._spend import spend_from_json

__all__ = ["BatchStats", "BatchSummary", "progress_task", "summary_of_file"]


class Sample:
    """A uniform sample of at most ``size`` values (reservoir sampling): percentiles of
    a batch of any length from bounded memory."""

    __slots__ = ("_rng", "count", "size", "values")

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.count = 0
        self.values: list[float] = []
        self._rng = random.Random(0)

    def append(self, value: float) -> None:
        self.count += 1
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            i = self._rng.randrange(self.count)
            if i < self.size:
                self.values[i] = value


@attrs.define
class BatchStats:
    """Counts kept while a batch runs (one event loop: plain fields)."""

    total: int = 0
    skipped: int = 0  # done in an earlier run
    done: int = 0
    failed: int = 0
    in_flight: int = 0
    retrying: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    priced: int = 0  # finished items whose cost is known (the model has prices)
    latencies: Sample = attrs.field(factory=Sample)
    errors: Counter[str] = attrs.field(factory=Counter)
    started: float = attrs.field(factory=time.monotonic)
    paused_for: float = 0.0
    paused_total: float = 0.0
    budget: Callable[[], str] | None = None  # "spent of cap", when a budget is set

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        finished = self.done + self.failed
        rate = finished / elapsed
        left = self.total - self.skipped - finished
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        paused = f", paused {self.paused_for:.0f}s" if self.paused_for > 0 else ""
        return (
            f"{finished + self.skipped}/{self.total} done ({self.failed} failed), "
            f"{self.in_flight} in flight, {self.retrying} retrying{paused}, "
            f"{self.input_tokens + self.output_tokens} tokens, "
            + (f"${self.cost:.4f}, " if self.priced else "cost unknown, ")
            + (f"budget {self.budget()}, " if self.budget is not None else "")
            + f"{rate:.1f} items/s, ETA {eta}"
        )


@attrs.frozen
class BatchSummary:
    """The end of a batch (or the state of an output file)."""

    total: int
    succeeded: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost: float
    p50: float | None
    p95: float | None
    errors: dict[str, int]
    skipped: int = 0
    interrupted: bool = False
    budget: str | None = None
    """Spent of each cap (``$0.98 of $1.00 spent``), the whole output's, when a budget
    was set."""
    stopped_by_budget: bool = False
    left: int = 0
    """Items not run (a stop by the budget or a signal leaves them for a resume)."""
    cost_known: bool = True
    """False when no line carries a cost (the model has no prices): ``cost`` is then 0
    for want of prices, and the text says "unknown", not "$0"."""
    output: str | None = None
    """The output file the summary is of."""

    def text(self) -> str:
        def ms(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.2f}s"

        lines = [
            f"items: {self.total} ({self.succeeded} succeeded, {self.failed} failed"
            + (f", {self.skipped} from an earlier run" if self.skipped else "")
            + (f", interrupted: {self.left} not run" if self.interrupted else "")
            + ")",
            f"tokens: {self.input_tokens} in, {self.output_tokens} out; "
            + (f"cost ${self.cost:.4f}" if self.cost_known else "cost unknown (no prices)"),
            f"latency: p50 {ms(self.p50)}, p95 {ms(self.p95)}",
        ]
        if self.errors:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.errors.items()))
            lines.append(f"errors: {kinds}")
        if self.budget is not None:
            stop = ""
            if self.stopped_by_budget:
                stop = "; stopped by its budget" + (
                    f", {self.left} items left" if self.left else ""
                )
            lines.append(f"budget: {self.budget}{stop}")
        if self.output is not None:
            lines.append(f"output: {self.output}")
        return "\n".join(lines)


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    q = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values), q[18]


def summary_of_stats(stats: BatchStats, interrupted: bool) -> BatchSummary:
    p50, p95 = _percentiles(stats.latencies.values)
    return BatchSummary(
        stats.done + stats.failed + stats.skipped,
        stats.done,
        stats.failed,
        stats.input_tokens,
        stats.output_tokens,
        stats.cost,
        p50,
        p95,
        dict(stats.errors),
        stats.skipped,
        interrupted,
        cost_known=stats.priced > 0 or stats.done + stats.failed == 0,
    )


def _row_facts(row: dict[str, Any]) -> tuple[bool, str | None, int, int, float, float | None]:
    """(failed, error kind, tokens in, tokens out, cost, duration) of an output row, ours
    or the OpenAI Batch format."""
    if "custom_id" in row:
        response = row.get("response") or {}
        body = response.get("body") or {}
        if row_failed(row, "openai-batch"):
            if row.get("error") is not None:
                return True, str(row["error"].get("code")), 0, 0, 0.0, None
            err = body.get("error") or {}
            return True, str(err.get("type") or response.get("status_code")), 0, 0, 0.0, None
        usage = body.get("usage") or {}
        return (
            False,
            None,
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            0.0,
            None,
        )
    usage = row.get("usage") or {}
    tokens_in = (
        int(usage.get("input", 0))
        + int(usage.get("cache_read", 0))
        + int(usage.get("cache_write", 0))
    )
    error = row.get("error")
    kind = str(error.get("kind")) if isinstance(error, dict) else None
    duration = row.get("duration")
    return (
        error is not None,
        kind,
        tokens_in,
        int(usage.get("output", 0)),
        float(row.get("cost") or 0.0),
        float(duration) if isinstance(duration, int | float) and error is None else None,
    )


def summary_of_rows(rows: Iterable[dict[str, Any]]) -> BatchSummary:
    total = failed = tin = tout = priced = 0
    cost = 0.0
    latencies = Sample()
    errors: Counter[str] = Counter()
    for row in rows:
        total += 1
        bad, kind, i, o, c, d = _row_facts(row)
        tin, tout, cost = tin + i, tout + o, cost + c
        priced += isinstance(row.get("cost"), int | float)
        if bad:
            failed += 1
            errors[kind or "unknown"] += 1
        if d is not None:
            latencies.append(d)
    p50, p95 = _percentiles(latencies.values)
    return BatchSummary(
        total, total - failed, failed, tin, tout, cost, p50, p95, dict(errors),
        cost_known=priced > 0 or total == 0,
    )  # fmt: skip


def summary_of_file(path: Path) -> BatchSummary:
    summary = attrs.evolve(summary_of_rows(summarise_rows(path)), output=str(path))
    sidecar = path.with_name(path.name + ".meta.json")
    try:
        meta = loads(sidecar.read_bytes())
    except (OSError, ValueError):
        return summary
    budget = meta.get("budget") if isinstance(meta, dict) else None
    if not isinstance(budget, dict) or not isinstance(budget.get("caps"), dict):
        return summary
    try:
        view = Budget.from_caps(budget["caps"], spent=spend_from_json(budget.get("spent")))
    except (TypeError, ValueError):
        return summary
    return attrs.evolve(
        summary,
        budget=view.describe() + " spent at the last run's end",
        stopped_by_budget=budget.get("stopped") is True,
    )


async def progress_task(stats: BatchStats, gate: Any, out: TextIO | None = None) -> None:
    """Progress until cancelled: a live rich line on a terminal, else a plain log line
    every 5 seconds."""
    out = out or sys.stderr
    tty = out.isatty()
    live: Any = None
    if tty:
        try:
            from rich.console import Console
            from rich.live import Live
            from rich.text import Text
        except ImportError:  # pragma: no cover - rich is in the batch extra
            tty = False
        else:
            live = Live(console=Console(file=out), refresh_per_second=4, transient=True)
            live.start()

            def one_line(text: str) -> Any:
                # One terminal line, whatever its width: cut with an ellipsis, never
                # wrapped (a wrapped live line leaves a trail as it redraws).
                return Text(text, no_wrap=True, overflow="ellipsis")

    try:
        while True:
            stats.paused_for = gate.paused_for
            stats.paused_total = gate.paused_total
            if live is not None:
                live.update(one_line(stats.line()))
                await anyio.sleep(0.25)
            else:
                await anyio.sleep(5.0)
                stats.paused_for = gate.paused_for
                print(f"tinyagent batch: {stats.line()}", file=out, flush=True)
    finally:
        if live is not None:
            live.stop()
