"""Streaming structured output: client CPU per fragment of the partial-JSON reader, at
growing answer lengths, against re-parsing the text so far (jiter's partial mode, what
a reader without incremental state must do).

    python3 benches/bench_partial_json.py

Each fragment is fed, then the value so far is read (what ``stream_output`` does per
fragment when the consumer keeps up). The answer is an object with a list of records
(names, numbers, a sentence each), split in 8-character fragments as a model streams.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tinyagent.output import PartialJSON

try:
    import jiter
except ImportError:  # pragma: no cover
    jiter = None

FRAGMENT = 8


def answer(records: int) -> str:
    items = [
        {"id": i, "name": f"item {i}", "score": i * 0.5, "note": "a short sentence " * 3}
        for i in range(records)
    ]
    return json.dumps({"title": "report", "items": items})


def fragments(text: str) -> list[str]:
    return [text[i : i + FRAGMENT] for i in range(0, len(text), FRAGMENT)]


def incremental(frags: list[str]) -> None:
    p = PartialJSON()
    for f in frags:
        p.feed(f)
        p.value()


def reparse(frags: list[str]) -> None:
    assert jiter is not None
    so_far = ""
    for f in frags:
        so_far += f
        jiter.from_json(so_far.encode(), partial_mode="trailing-strings")


def per_fragment(fn: Callable[[list[str]], None], frags: list[str]) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        fn(frags)
        best = min(best, time.process_time() - t0)
    return best / len(frags) * 1e6


def main() -> None:
    print(f"{'answer':>10} {'fragments':>10} {'incremental µs':>15} {'jiter re-parse µs':>18}")
    for records in (10, 100, 1000):
        frags = fragments(answer(records))
        inc = per_fragment(incremental, frags)
        rep = per_fragment(reparse, frags) if jiter is not None and records <= 1000 else None
        size = f"{sum(map(len, frags)) / 1024:.0f} KiB"
        shown = f"{rep:.2f}" if rep is not None else "-"
        print(f"{size:>10} {len(frags):>10} {inc:>15.2f} {shown:>18}")


if __name__ == "__main__":
    main()
