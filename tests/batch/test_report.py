"""Progress and summaries: a plain log line every few seconds off a terminal, a live
line on one, and the same summary from a run and from its output file."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import trio
import trio.testing

from tinyagent.batch import BatchGate, BatchStats
from tinyagent.batch._report import Sample, progress_task, summary_of_file


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.trio
async def test_a_plain_line_every_five_seconds_off_a_terminal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    stats = BatchStats(total=100, done=40, failed=2, in_flight=7, retrying=1)
    gate = BatchGate(concurrency=10)
    gate.paused_until = trio.current_time() + 30  # as a 429 with Retry-After: 30 would
    out = io.StringIO()
    with trio.move_on_after(11):
        await progress_task(stats, gate, out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("tinyagent batch: 42/100 done (2 failed), 7 in flight, 1 retrying")
    assert "paused 25s" in lines[0] and "paused 20s" in lines[1]
    assert "items/s" in lines[0] and "ETA" in lines[0]


@pytest.mark.trio
async def test_a_live_line_on_a_terminal(autojump_clock: trio.testing.MockClock) -> None:
    stats = BatchStats(total=10, done=3)
    out = Terminal()
    with trio.move_on_after(1):
        await progress_task(stats, BatchGate(concurrency=1), out)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # rich's colours
    assert "3/10 done (0 failed)" in shown


def test_status_of_a_file_matches_what_the_run_counted(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    rows = [
        {"id": "a", "text": "x", "error": None, "usage": {"input": 10, "output": 5},
         "cost": 0.5, "duration": 1.0},
        {"id": "b", "text": "y", "error": None, "usage": {"input": 10, "output": 5},
         "cost": 0.25, "duration": 3.0},
        {"id": "c", "text": None, "error": {"kind": "rate_limit", "message": "429"},
         "usage": None, "cost": None, "duration": 9.0},
    ]  # fmt: skip
    out.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"id": "torn')
    summary = summary_of_file(out)
    assert (summary.total, summary.succeeded, summary.failed) == (3, 2, 1)
    assert (summary.input_tokens, summary.output_tokens, summary.cost) == (20, 10, 0.75)
    assert summary.p50 == 2.0 and summary.errors == {"rate_limit": 1}
    text = summary.text()
    assert "items: 3 (2 succeeded, 1 failed)" in text and "errors: rate_limit 1" in text


def test_the_latency_sample_is_bounded_and_uniform() -> None:
    sample = Sample(size=1000)
    for i in range(100_000):
        sample.append(float(i))
    assert len(sample.values) == 1000 and sample.count == 100_000
    assert 40_000 < sorted(sample.values)[500] < 60_000  # the median of 0..99,999
