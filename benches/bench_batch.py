"""Batch throughput: 10,000 single-call items of a short streamed reply (20 chunks)
against the local bench server, at concurrency 1,000, each runner in a fresh process:

- tinyagent's ``run_batch`` on the native transport, and on httpx; ``native+budget``:
  on the native transport under a dollar budget that never binds (every call reserved
  and settled on the batch's one account: what a budget costs per call);
- what users write today: the openai SDK (``AsyncOpenAI``, streaming) under an
  ``asyncio.Semaphore``, gathered.

    python3 benches/bench_batch.py [--items 10000] [--concurrency 1000]

Reported: items/s (wall), client CPU per item (getrusage of the client process: user +
system, every thread), and the client's peak RSS. The server runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_agent import start_server  # noqa: E402

MODEL = "text-20"


def _usage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


def write_input(path: Path, items: int) -> None:
    with open(path, "w") as f:
        for i in range(items):
            f.write(json.dumps({"id": f"q{i}", "prompt": f"item {i}"}) + "\n")


def run_tinyagent(base: str, items: int, concurrency: int, transport: str) -> dict[str, Any]:
    import anyio

    from tinyagent import Model
    from tinyagent.batch import run_batch

    transport, budgeted, _ = transport.partition("+budget")
    extra: dict[str, Any] = {}  # a build from before budgets takes no budget=
    options: dict[str, Any] = {"transport": transport}
    if budgeted:
        from tinyagent import ModelCost
        from tinyagent.budget import Budget

        extra["budget"] = Budget(max_cost=1e9, prices=ModelCost(input=1.0, output=1.0))
        options["max_tokens"] = 100

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        write_input(inp, items)
        cpu0, _ = _usage()
        t0 = time.perf_counter()
        summary = anyio.run(
            lambda: run_batch(
                inp,
                out,
                model=Model(MODEL, base),
                concurrency=concurrency,
                stream_options=options,
                progress=False,
                **extra,
            ),
            backend="trio",
        )
        wall = time.perf_counter() - t0
        cpu, rss = _usage()
        assert summary.succeeded == items, summary
    return {"wall": wall, "cpu": cpu - cpu0, "rss": rss, "fd_limit": hard}


def run_openai(base: str, items: int, concurrency: int) -> dict[str, Any]:
    import asyncio

    import httpx
    from openai import AsyncOpenAI

    async def main() -> int:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        client = AsyncOpenAI(
            base_url=base, api_key="x", max_retries=0, http_client=httpx.AsyncClient(limits=limits)
        )
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> str:
            async with gate:
                stream = await client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": f"item {i}"}], stream=True
                )
                parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
                return "".join(parts)

        texts = await asyncio.gather(*(one(i) for i in range(items)))
        await client.close()
        return sum(1 for t in texts if t)

    cpu0, _ = _usage()
    t0 = time.perf_counter()
    ok = asyncio.run(main())
    wall = time.perf_counter() - t0
    cpu, rss = _usage()
    assert ok == items
    return {"wall": wall, "cpu": cpu - cpu0, "rss": rss}


def child(kind: str, base: str, items: int, concurrency: int) -> dict[str, Any]:
    if kind == "openai":
        return run_openai(base, items, concurrency)
    return run_tinyagent(base, items, concurrency, kind)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=4)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=1_000)
    ap.add_argument("--kinds", default="native,httpx,openai")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--python", action="append", default=[], help="NAME=INTERPRETER (A/B)")
    args = ap.parse_args()
    if args.child:
        kind, base, items, concurrency = args.child
        print(json.dumps(child(kind, base, int(items), int(concurrency))))
        return
    pythons = dict(p.split("=", 1) for p in args.python) or {"this": sys.executable}
    proc, base = start_server()
    try:
        for _ in range(args.rounds):  # interleaved: every kind and build, round after round
            for kind in args.kinds.split(","):
                for name, python in pythons.items():
                    out = subprocess.run(
                        [python, __file__, "--child", kind, base, str(args.items),
                         str(args.concurrency)],
                        check=True, capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
                    )  # fmt: skip
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    print(
                        f"{kind:>7} {name}: {args.items / r['wall']:8.0f} items/s, "
                        f"{r['cpu'] / args.items * 1e3:.3f} ms CPU/item, "
                        f"peak RSS {r['rss']:.0f} MB",
                        flush=True,
                    )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
