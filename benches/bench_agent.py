"""Agent-loop overhead: client CPU per turn, and many concurrent runs in one process.

    python benches/bench_agent.py             # per-turn cost at 50 and 200 turns; 1,000 runs
    python benches/bench_agent.py --quick

Per-turn: one prompt runs N turns of (one trivial tool call -> its result), then a short
text answer, against a local server in another process; we report the client's CPU
(getrusage) divided by N. Concurrency: 1,000 agent runs, each a 3-turn tool
conversation, at once in one process: wall time, client CPU, and peak RSS per run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_bench_server.py"), "trio"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}/v1"


def _tool() -> Any:
    import tinyagent

    async def noop(call_id: str, args: dict[str, Any], update: Any) -> str:
        return f"ok {args.get('i')}"

    return tinyagent.Tool(
        "step", "One step.", {"type": "object", "properties": {"i": {"type": "integer"}}}, noop
    )


TRANSPORT = os.environ.get("TINYAGENT_BENCH_TRANSPORT") or None


async def one_conversation(base: str, turns: int) -> int:
    import tinyagent

    agent = tinyagent.Agent(
        tinyagent.Model(f"turn-{turns}", base),
        "You are a bench.",
        [_tool()],
        stream_options={"transport": TRANSPORT},
    )
    new = await agent.prompt("go")
    assert agent.state.last_error is None, agent.state.last_error
    return len(new)


def per_turn(base: str, turns: int, backend: str) -> dict[str, Any]:
    import anyio

    anyio.run(one_conversation, base, 2, backend=backend)  # warm up
    c0 = _cpu()
    t0 = time.perf_counter()
    n = anyio.run(one_conversation, base, turns, backend=backend)
    return {"cpu": _cpu() - c0, "wall": time.perf_counter() - t0, "messages": n}


def concurrent(base: str, runs: int, backend: str) -> dict[str, Any]:
    import anyio

    _raise_fd_limit()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(runs):
                tg.start_soon(one_conversation, base, 3)

    anyio.run(one_conversation, base, 1, backend=backend)  # warm up
    rss0 = _rss_mb()
    c0 = _cpu()
    t0 = time.perf_counter()
    anyio.run(main, backend=backend)
    return {
        "cpu": _cpu() - c0,
        "wall": time.perf_counter() - t0,
        "rss_per_run_kb": (_rss_mb() - rss0) * 1024 / runs,
    }


def child(*args: str, transport: str = "") -> dict[str, Any]:
    env = {**os.environ, "TINYAGENT_BENCH_TRANSPORT": transport}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs="+")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--backend", default="trio")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peers-python", help="an interpreter with tiny-agent-os and pydantic-ai")
    args = ap.parse_args()
    if args.child:
        kind, base, n, backend = args.child
        fn = per_turn if kind == "turns" else concurrent
        print(json.dumps(fn(base, int(n), backend)))
        return
    _raise_fd_limit()
    proc, base = start_server()
    try:
        rows = []
        for transport in ("native", "httpx"):
            for backend in ("trio", "asyncio"):
                for n in (50, 200):
                    runs_ = [
                        child("turns", base, str(n), backend, transport=transport)
                        for _ in range(args.repeat)
                    ]
                    best = min(runs_, key=lambda r: r["cpu"])
                    ms = best["cpu"] / n * 1e3
                    rows.append(
                        f"| tinyagent {transport} | {backend} | {n} turns | {ms:.3f} ms/turn | wall {best['wall']:.2f} s |"
                    )
                    print(rows[-1], flush=True)
        if args.peers_python:
            for peer in ("tiny-agent-os", "pydantic-ai"):
                for n in (50, 200):
                    out = subprocess.run(
                        [args.peers_python, str(HERE / "peers_agent.py"), peer, base, str(n)],
                        capture_output=True,
                        text=True,
                    )
                    if out.returncode != 0:
                        rows.append(
                            f"| {peer} | asyncio | {n} turns | failed: {out.stderr.strip()[-120:]} | |"
                        )
                    else:
                        r = json.loads(out.stdout.strip().splitlines()[-1])
                        ms = r["cpu"] / n * 1e3
                        rows.append(
                            f"| {peer} | asyncio | {n} turns | {ms:.3f} ms/turn | wall {r['wall']:.2f} s |"
                        )
                    print(rows[-1], flush=True)
        runs = 200 if args.quick else 1000
        for transport in ("native", "httpx"):
            for backend in ("trio", "asyncio"):
                r = child("concurrent", base, str(runs), backend, transport=transport)
                rows.append(
                    f"| tinyagent {transport} | {backend} | {runs} concurrent 3-turn runs | CPU {r['cpu']:.2f} s "
                    f"({r['cpu'] / runs * 1e3:.2f} ms/run) | wall {r['wall']:.2f} s, "
                    f"RSS {r['rss_per_run_kb']:.0f} KB/run |"
                )
                print(rows[-1], flush=True)
    finally:
        proc.terminate()
        proc.wait()
    print()
    print("| client | backend | workload | client CPU | other |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
