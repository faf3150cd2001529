"""What tracing and sessions add to an agent's turn: client CPU per turn with nothing,
with an OpenTelemetry tracer (the API alone, no SDK or exporter; and the SDK's provider
with no exporter), with a SQLite or a JSON Lines session, and with a budget (every call reserved and
settled). Each process runs every kind interleaved, round after round, so that a
feature's share is measured against plain turns of the same process (this machine's
speed moves by ±10% from one process to the next); builds alternate process by process.

    python3 benches/bench_overhead.py [--turns 200] [--rounds 7]
    python3 benches/bench_overhead.py --kinds plain,otel-sdk --python old=/tmp/oldpy --python new=python3
    python3 benches/bench_overhead.py --backend asyncio
    python3 benches/bench_overhead.py --kinds plain,sqlite,jsonl --prompts 100
    python3 benches/bench_overhead.py --kinds plain,sqlite,sqlite-nosql,otel-sdk,otel-sdk-bare

Each run is one prompt of N turns (one trivial tool call and its result each, then a
short answer) against the bench server in another process, as in ``bench_agent.py``.
With ``--prompts N`` each run is instead one agent answering N prompts of one short
reply each (no tool call), and the figure is per prompt: what a chat server pays per
request, a session's lease and its two messages included.
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

KINDS = ("plain", "otel-api", "otel-sdk", "sqlite", "jsonl", "budget")
# Floors, asked for by name (``--kinds plain,sqlite,sqlite-nosql``; this tree only): what
# the dependency's own work costs a turn, measured by leaving it out.
#   sqlite-nosql   the SQLite session with every step kept (encoding, the lock, the
#                  guarantee's await) but its SQL skipped: sqlite minus this is SQLite's
#                  own two commits a turn
#   otel-sdk-bare  the SDK's spans alone (same names, parents and activation, no
#                  attributes, no status, none of the run's span bookkeeping): the SDK's floor
FLOORS = ("sqlite-nosql", "otel-sdk-bare")
# Also by name: otel-sdk-unsampled, the SDK's provider whose sampler keeps no trace (what
# the runs a ratio sampler drops cost).


def _sqlite_without_sql(db: str, session_id: str) -> Any:
    from tinyagent.sessions._sqlite import SQLiteSession

    class WithoutSQL(SQLiteSession):
        def _append_here(self, rows: Any) -> bool:
            if self._here is None:  # the first append opens the file, as usual
                return super()._append_here(rows)
            with self._lock:
                return True

    return WithoutSQL(db, session_id)


def _bare_sdk_tracer() -> Any:
    from opentelemetry.sdk.trace import TracerProvider

    from tinyagent.tracing._otel import _OtelSpan

    sdk = TracerProvider().get_tracer("bench")

    class Bare(_OtelSpan):  # made current as tinyagent's are; no attributes, no status
        __slots__ = ()

        def set(self, attributes: Any) -> None:
            pass

        def end(self, error: str | None = None) -> None:
            self.span.end()

    class BareTracer:
        record_content = False

        def start(self, name: str, attributes: Any, parent: Any, kind: str = "internal") -> Any:
            context = parent.context if parent is not None else None
            return Bare(sdk.start_span(name, context=context))

    return BareTracer()


async def conversation(base: str, turns: int, kind: str, db: str, prompts: int = 0) -> None:
    import tinyagent

    options: dict[str, Any] = {}
    if kind == "otel-api":  # OpenTelemetry's API alone: no SDK, so no exporter
        from tinyagent.tracing import OpenTelemetryTracer

        options["tracer"] = OpenTelemetryTracer()
    elif kind == "otel-sdk":  # the SDK's provider, with no span processor or exporter
        from opentelemetry.sdk.trace import TracerProvider

        from tinyagent.tracing import OpenTelemetryTracer

        options["tracer"] = OpenTelemetryTracer(TracerProvider())
    elif kind == "otel-sdk-unsampled":  # the SDK's provider, its sampler keeping no trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

        from tinyagent.tracing import OpenTelemetryTracer

        options["tracer"] = OpenTelemetryTracer(TracerProvider(sampler=ALWAYS_OFF))
    elif kind == "sqlite":
        options["session"] = tinyagent.SQLiteSession(db, f"s{turns}")
    elif kind == "jsonl":
        options["session"] = tinyagent.JSONLSession(db.removesuffix(".db") + ".jsonl")
    elif kind == "sqlite-nosql":
        options["session"] = _sqlite_without_sql(db, f"s{turns}")
    elif kind == "otel-sdk-bare":
        options["tracer"] = _bare_sdk_tracer()
    elif kind == "budget":  # a dollar cap that never binds: each call reserved and settled
        from tinyagent.budget import Budget

        price = tinyagent.ModelCost(input=1.0, output=1.0)
        options["budget"] = Budget(max_cost=1e9, max_total_tokens=10**12, prices=price)
        options["stream_options"] = {"max_tokens": 1000}
    model = tinyagent.Model(f"turn-{0 if prompts else turns}", base)
    agent = tinyagent.Agent(model, "You are a bench.", [_tool()], **options)
    for _ in range(prompts or 1):
        await agent.prompt("go")
        assert agent.state.last_error is None, agent.state.last_error


def child(
    base: str, turns: int, kinds: list[str], backend: str, rounds: int, prompts: int = 0
) -> dict[str, Any]:
    """Every kind in this one process, interleaved round after round: CPU per turn (or
    per prompt) of each, and each one's median ratio to the first kind's in the same round (the
    process's own speed, which moves from process to process, cancels out)."""
    import anyio

    per: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            anyio.run(conversation, base, 2, kind, f"{tmp}/warm.db", backend=backend)
        for r in range(rounds):
            # The order turns each round: no kind always runs after the same other one
            # (a kind pays for the garbage the one before it left).
            for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
                db = str(Path(tmp) / f"{kind}-{r}.db")
                c0 = _cpu()
                anyio.run(conversation, base, turns, kind, db, prompts, backend=backend)
                per[kind].append((_cpu() - c0) / (prompts or turns))
    first = per[kinds[0]]
    return {
        k: {
            "cpu": statistics.median(v),
            "ratio": statistics.median(x / f for x, f in zip(v, first, strict=True)),
        }
        for k, v in per.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=6)
    ap.add_argument("--backend", default="trio", choices=["trio", "asyncio"])
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--prompts", type=int, default=0, help="N one-reply prompts a run")
    ap.add_argument("--rounds", type=int, default=7, help="rounds inside each process")
    ap.add_argument("--processes", type=int, default=3, help="processes per build")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--python", action="append", default=[], help="NAME=INTERPRETER (A/B)")
    args = ap.parse_args()
    if args.child:
        base, turns, kinds_arg, backend, rounds, prompts = args.child
        out = child(base, int(turns), kinds_arg.split(","), backend, int(rounds), int(prompts))
        print(json.dumps(out))
        return
    kinds = args.kinds.split(",")
    pythons = dict(p.split("=", 1) for p in args.python) or {"this": sys.executable}
    proc, base = start_server()
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for _ in range(args.processes):  # the builds alternate, process after process
            for name, python in pythons.items():
                out = subprocess.run(
                    [python, __file__, "--child", base, str(args.turns), args.kinds,
                     args.backend, str(args.rounds), str(args.prompts)],
                    check=True, capture_output=True, text=True, cwd="/",
                )  # fmt: skip
                got = json.loads(out.stdout.strip().splitlines()[-1])
                for kind in kinds:
                    results.setdefault((kind, name), []).append(got[kind])
    finally:
        proc.terminate()
        proc.wait()
    shape = f"{args.prompts} one-reply prompts" if args.prompts else f"{args.turns}-turn prompts"
    unit = "prompt" if args.prompts else "turn"
    print(
        f"{args.backend}, {shape}; {args.processes} processes per build, "
        f"each running every kind interleaved {args.rounds} times (medians)"
    )
    print(f"| agent | build | CPU per {unit} | added (vs {kinds[0]}, same process) |")
    print("|---|---|---:|---:|")
    for kind in kinds:
        for name in pythons:
            runs = results[(kind, name)]
            cpu = statistics.median(r["cpu"] for r in runs)
            ratio = statistics.median(r["ratio"] for r in runs)
            print(f"| {kind} | {name} | {cpu * 1e3:.3f} ms | {(ratio - 1) * 100:+.1f}% |")


if __name__ == "__main__":
    main()
