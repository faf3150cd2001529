"""Appending to a SQLite session: latency of one ``append`` (the thread hop, the
encoding and the transaction) with 10,000 messages already in the file.

    python3 benches/bench_session.py [--durable]

Each append is what an agent run awaits per message: one message, one transaction. The
messages are a realistic mix (prompts, replies with usage, tool calls and results).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from tinyagent import (
    AssistantMessage,
    SQLiteSession,
    StopReason,
    TextContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

PRELOAD = 10_000
MEASURED = 2_000


def message(i: int) -> object:
    kind = i % 4
    if kind == 0:
        return UserMessage(f"question {i}: " + "words " * 40)
    if kind == 1:
        call = ToolCall(f"c{i}", "search", {"query": f"topic {i}", "limit": 5})
        return AssistantMessage(
            (TextContent("Let me look. " * 5), call),
            StopReason.TOOL_USE,
            model="m",
            usage=Usage(input=900, output=60, total=960),
        )
    if kind == 2:
        return ToolResultMessage(f"c{i - 1}", "search", "result line\n" * 20)
    return AssistantMessage((TextContent("An answer. " * 30),), StopReason.STOP, model="m")


async def main(durable: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with SQLiteSession(Path(tmp) / "bench.db", "s", durable=durable) as session:
            for start in range(0, PRELOAD, 500):
                await session.append([message(i) for i in range(start, start + 500)])
            samples = []
            cpu0 = time.process_time()
            for i in range(MEASURED):
                m = message(PRELOAD + i)
                t0 = time.perf_counter()
                await session.append([m])  # type: ignore[list-item]
                samples.append(time.perf_counter() - t0)
            cpu = (time.process_time() - cpu0) / MEASURED
            assert await session.count() == PRELOAD + MEASURED
    samples.sort()
    ms = [s * 1e3 for s in samples]
    print(
        f"durable={durable} preload={PRELOAD}: p50 {statistics.median(ms):.3f} ms, "
        f"p99 {ms[int(len(ms) * 0.99)]:.3f} ms, max {ms[-1]:.3f} ms, "
        f"CPU {cpu * 1e6:.0f} µs per append"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--durable", action="store_true")
    args = parser.parse_args()
    anyio.run(main, args.durable, backend="trio")
