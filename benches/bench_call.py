"""Client CPU per ``complete()`` of a short reply: no session given (the event loop's
shared one) against one ``Session`` for all calls, on each transport.

    python benches/bench_call.py
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stream import start_server

import tinyagent

try:
    from tinyagent.transports import Connections
except ImportError:  # a build from before the rename (2a43bd0): the same class
    from tinyagent.transports import Session as Connections  # type: ignore[attr-defined,no-redef]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def per_call(base: str, n: int, transport: str, use_session: bool) -> float:
    m = tinyagent.Model("text-10", base)
    ctx = tinyagent.Context(messages=[tinyagent.UserMessage("go")])
    async with Connections() as s:
        opts = {"session": s} if use_session else {}
        for _ in range(20):
            await tinyagent.complete(m, ctx, transport=transport, **opts)
        c0 = cpu()
        for _ in range(n):
            msg = await tinyagent.complete(m, ctx, transport=transport, **opts)
            assert msg.error_message is None, msg.error_message
        return (cpu() - c0) / n * 1e3


def main() -> None:
    proc, base = start_server()
    try:
        print("| transport | no session given | one `Session` for all calls |")
        print("|---|---:|---:|")
        for transport in ("httpx", "native"):
            row = [
                min(anyio.run(per_call, base, 300, transport, s) for _ in range(3))
                for s in (False, True)
            ]
            print(f"| {transport} | {row[0]:.2f} ms | {row[1]:.2f} ms |")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
