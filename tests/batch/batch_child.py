"""``python batch_child.py IN OUT BACKEND DELAY GRACE``: a batch against its own local
server (each reply ``DELAY`` seconds late), until done or signalled; prints the summary."""

from __future__ import annotations

import sys

import anyio

from tinyagent.batch import run_batch
from tinyagent.testing import LocalServer, RecordedRequest, Reply, text_reply

SEEN = [0]


def reply(request: RecordedRequest, delay: float) -> Reply:
    SEEN[0] += 1
    if SEEN[0] == 10:
        print("10 requests", flush=True)  # the first wave is in flight
    return text_reply("answer to " + request.json["messages"][-1]["content"]).but(delay=delay)


async def main(inp: str, out: str, delay: float, grace: float) -> None:
    async with LocalServer(handler=lambda r: reply(r, delay)) as server:
        print("serving", flush=True)
        summary = await run_batch(
            inp, out, model=server.model(), concurrency=10, grace=grace, progress=False
        )
    print(f"done {summary.succeeded} interrupted {summary.interrupted}", flush=True)


if __name__ == "__main__":
    inp, out, backend, delay, grace = sys.argv[1:6]
    anyio.run(main, inp, out, float(delay), float(grace), backend=backend)
