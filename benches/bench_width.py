"""Client CPU per ``complete()`` as the calls in flight grow: N calls of a 20-chunk reply
on the default session (no ``session=``, no ``client=``), K at a time, for each
transport, against the bench server in its own process.

    python3 benches/bench_width.py [--calls 10000] [--widths 10,100,1000] [--transports httpx,native]

Reported per width: calls answered and failed, wall time, and client CPU per call
(getrusage of this process: user + system, every thread). Each (transport, width) runs
in a fresh process, so one width's pool does not warm the next.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_stream import start_server  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(base: str, calls: int, width: int, transport: str, backend: str) -> dict[str, object]:
    import anyio

    import tinyagent

    model = tinyagent.Model("text-20", base)
    ctx = tinyagent.Context(messages=[tinyagent.UserMessage("go")])
    failures: list[str] = []

    async def main() -> float:
        for _ in range(min(width, 50)):  # warm up: imports, the pool's first connections
            await tinyagent.complete(model, ctx, transport=transport)
        limiter = anyio.Semaphore(width)

        async def one() -> None:
            async with limiter:
                msg = await tinyagent.complete(model, ctx, transport=transport)
            if msg.error_message is not None:
                failures.append(msg.error_message)

        t0 = time.perf_counter()
        c0 = _cpu()
        async with anyio.create_task_group() as tg:
            for _ in range(calls):
                tg.start_soon(one)
        cpu = _cpu() - c0
        return cpu, time.perf_counter() - t0  # type: ignore[return-value]

    cpu, wall = anyio.run(main, backend=backend)  # type: ignore[misc]
    return {
        "answered": calls - len(failures),
        "failed": len(failures),
        "first_failure": failures[0] if failures else None,
        "wall": wall,
        "cpu_per_call_ms": cpu / calls * 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=5)
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--widths", default="10,100,1000")
    ap.add_argument("--transports", default="httpx,native")
    ap.add_argument("--backend", default="trio")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    if args.child:
        base, calls, width, transport, backend = args.child
        print(json.dumps(child(base, int(calls), int(width), transport, backend)))
        return
    proc, base = start_server()
    try:
        print("| transport | in flight | answered | failed | wall | client CPU per call |")
        print("|---|---:|---:|---:|---:|---:|")
        for transport in args.transports.split(","):
            for width in map(int, args.widths.split(",")):
                cmd = [args.python, __file__, "--child", base, str(args.calls), str(width)]
                out = subprocess.run(
                    [*cmd, transport, args.backend], capture_output=True, text=True, cwd="/"
                )
                if out.returncode != 0:
                    print(f"| {transport} | {width} | crashed: {out.stderr.strip()[-300:]} |")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"| {transport} | {width:,} | {r['answered']:,} | {r['failed']:,} "
                    f"| {r['wall']:.1f} s | {r['cpu_per_call_ms']:.2f} ms |"
                    + (f" first failure: {r['first_failure'][:120]}" if r["failed"] else ""),
                    flush=True,
                )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
