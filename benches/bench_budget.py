"""What a budget costs a call: client CPU of reserving a worst case and settling it,
alone (no I/O), for one account and for a run's chain of two (a sub-agent's own and
its caller's), with the prompt estimated as a call does it.

    python3 benches/bench_budget.py [--calls 100000]

The figure to compare is a call's client CPU (``bench_call.py``, ``bench_batch.py``):
the budget must stay a small fraction of it. ``bench_batch.py --kinds native,native+budget``
and ``bench_overhead.py --kinds plain,budget`` measure it inside a batch and an agent.
"""

from __future__ import annotations

import argparse
import time

import anyio

from tinyagent.budget import Budget, prompt_tokens, reserve_all
from tinyagent.messages import Context, Model, ModelCost, Usage, UserMessage

MODEL = Model("m", "http://127.0.0.1:9/v1", max_tokens=1000)
PRICE = ModelCost(input=1.0, output=1.0)


async def loop(calls: int, chain: int) -> float:
    accounts = [Budget(max_cost=1e12, max_total_tokens=10**15, prices=PRICE) for _ in range(chain)]
    ctx = Context("Be brief.", (UserMessage("item 12345: say something"),))
    usage = Usage(input=20, output=30)
    t0 = time.process_time()
    for _ in range(calls):
        holds = await reserve_all(accounts, MODEL, prompt_tokens(ctx), 100)
        holds.settle(usage)
    return (time.process_time() - t0) / calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=100_000)
    args = ap.parse_args()
    print("| accounts | backend | CPU per call (reserve + settle + estimate) |")
    print("|---:|---|---:|")
    for chain in (1, 2):
        for backend in ("trio", "asyncio"):
            anyio.run(loop, 1000, chain, backend=backend)  # warm up
            per = anyio.run(loop, args.calls, chain, backend=backend)
            print(f"| {chain} | {backend} | {per * 1e6:.1f} µs |", flush=True)


if __name__ == "__main__":
    main()
