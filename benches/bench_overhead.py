"""What tracing and sessions add to an agent's turn: client CPU per turn with nothing,
with an OpenTelemetry tracer (the API alone, no SDK or exporter; and the SDK's provider
with no exporter), with a SQLite session, and with a budget (every call reserved and
settled), interleaved in fresh processes (median of
the rounds).

    python3 benches/bench_overhead.py [--turns 200] [--rounds 7]
    python3 benches/bench_overhead.py --kinds plain,otel-sdk --python old=/tmp/oldpy --python new=python3
    python3 benches/bench_overhead.py --backend asyncio

Each run is one prompt of N turns (one trivial tool call and its result each, then a
short answer) against the bench server in another process, as in ``bench_agent.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_agent import _cpu, _tool, start_server  # noqa: E402

KINDS = ("plain", "otel-api", "otel-sdk", "sqlite", "budget")


async def conversation(base: str, turns: int, kind: str, db: str) -> None:
    import tinyagent

    options: dict[str, Any] = {}
    if kind == "otel-api":  # OpenTelemetry's API alone: no SDK, so no exporter
        from tinyagent.tracing import OpenTelemetryTracer

        options["tracer"] = OpenTelemetryTracer()
    elif kind == "otel-sdk":  # the SDK's provider, with no span processor or exporter
        from opentelemetry.sdk.trace import TracerProvider

        from tinyagent.tracing import OpenTelemetryTracer

        options["tracer"] = OpenTelemetryTracer(TracerProvider())
    elif kind == "sqlite":
        options["session"] = tinyagent.SQLiteSession(db, f"s{turns}")
    elif kind == "budget":  # a dollar cap that never binds: each call reserved and settled
        from tinyagent.budget import Budget

        price = tinyagent.ModelCost(input=1.0, output=1.0)
        options["budget"] = Budget(max_cost=1e9, max_total_tokens=10**12, prices=price)
        options["stream_options"] = {"max_tokens": 1000}
    agent = tinyagent.Agent(
        tinyagent.Model(f"turn-{turns}", base), "You are a bench.", [_tool()], **options
    )
    await agent.prompt("go")
    assert agent.state.last_error is None, agent.state.last_error


def child(base: str, turns: int, kind: str, backend: str = "trio") -> float:
    import anyio

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        anyio.run(conversation, base, 2, kind, db, backend=backend)  # warm up
        c0 = _cpu()
        anyio.run(conversation, base, turns, kind, db, backend=backend)
        return (_cpu() - c0) / turns


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=4)
    ap.add_argument("--backend", default="trio", choices=["trio", "asyncio"])
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--python", action="append", default=[], help="NAME=INTERPRETER (A/B)")
    args = ap.parse_args()
    if args.child:
        base, turns, kind, backend = args.child
        print(json.dumps(child(base, int(turns), kind, backend)))
        return
    kinds = args.kinds.split(",")
    pythons = dict(p.split("=", 1) for p in args.python) or {"this": sys.executable}
    proc, base = start_server()
    results: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.rounds):
            for kind in kinds:
                for name, python in pythons.items():
                    out = subprocess.run(
                        [python, __file__, "--child", base, str(args.turns), kind, args.backend],
                        check=True,
                        capture_output=True,
                        text=True,
                        cwd="/",
                    )
                    per = json.loads(out.stdout.strip().splitlines()[-1])
                    results.setdefault((kind, name), []).append(per)
    finally:
        proc.terminate()
        proc.wait()
    first = next(iter(pythons))
    plain = statistics.median(results[(kinds[0], first)])
    print(f"{args.backend}, median of {args.rounds} fresh processes each")
    print(f"| agent | build | CPU per turn | vs {kinds[0]}/{first} | vs {kinds[0]} of its build |")
    print("|---|---|---:|---:|---:|")
    for kind in kinds:
        for name in pythons:
            med = statistics.median(results[(kind, name)])
            own = statistics.median(results[(kinds[0], name)])
            print(
                f"| {kind} | {name} | {med * 1e3:.3f} ms | {(med / plain - 1) * 100:+.1f}% "
                f"| {(med / own - 1) * 100:+.1f}% |"
            )


if __name__ == "__main__":
    main()
