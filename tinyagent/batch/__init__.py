"""Scripted batch runs: one model call (or one agent) per input line, exactly once.

``await run_batch("in.jsonl", "out.jsonl", model=..., concurrency=100, rpm=500)`` or
``tinyagent batch run in.jsonl -o out.jsonl --model ... --base-url ...``. Input and
output are JSON Lines in tinyagent's format or the OpenAI Batch API's; the output file
is the journal, so running the same command again resumes.

It stands above the agent: it imports ``call``, ``transports`` (the rate gate),
``catalogue``, ``serde``, ``messages`` and ``_util``; only ``cli`` imports it.
"""

from ._formats import BatchItem, Format
from ._gate import BatchGate
from ._report import BatchStats, BatchSummary, summary_of_file
from ._run import run_batch, run_batch_sync

__all__ = [
    "BatchGate",
    "BatchItem",
    "BatchStats",
    "BatchSummary",
    "Format",
    "run_batch",
    "run_batch_sync",
    "summary_of_file",
]
