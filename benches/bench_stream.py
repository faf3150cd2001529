"""Client CPU per streamed chunk: tinyagent against the floor and the peers.

    python benches/bench_stream.py            # full table (10k and 100k chunks)
    python benches/bench_stream.py --quick    # smaller streams, for a smoke run

Streams: ``text`` and ``tools`` in the OpenAI chat format, ``atext`` and ``atools`` the
same in the Anthropic Messages format, ``rtext`` and ``rtools`` in the OpenAI Responses
format (the chat-only peers are skipped for those).

Each measurement runs in a fresh client process against one server process; it reports
user+system CPU of the client (getrusage, not wall time) spent on the stream, and the
growth of peak RSS over it. Per-chunk cost is marginal: (CPU at 100k - CPU at 10k) / 90k,
which cancels connection setup and interpreter warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# --- the paths, each run inside the client process --------------------------------


async def path_floor(base: str, model: str) -> int:
    """Raw httpx: bytes in, nothing parsed. No client can do less."""
    import httpx

    body = {"model": model, "messages": [{"role": "user", "content": "go"}], "stream": True}
    n = 0
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", base + "/chat/completions", json=body) as r:
            async for piece in r.aiter_bytes():
                n += len(piece)
    return n


async def path_httpx_sse(base: str, model: str) -> int:
    """httpx-sse + json.loads: a hand-rolled client with no assembly at all."""
    import httpx
    from httpx_sse import aconnect_sse

    body = {"model": model, "messages": [{"role": "user", "content": "go"}], "stream": True}
    n = 0
    async with httpx.AsyncClient(timeout=60) as client:
        async with aconnect_sse(client, "POST", base + "/chat/completions", json=body) as es:
            async for sse in es.aiter_sse():
                if sse.data != "[DONE]":
                    json.loads(sse.data)
                    n += 1
    return n


def _tinyagent_path(transport: str) -> Callable[[str, str], Awaitable[int]]:
    async def run(base: str, model: str) -> int:
        import tinyagent

        api = {
            "a": "anthropic-messages",
            "r": "openai-responses",
            "g": "google-gemini",
            "b": "bedrock-converse",
        }.get(model[0], "openai-chat")
        m = tinyagent.Model(model, base, api=api)
        ctx = tinyagent.Context(messages=[tinyagent.UserMessage("go")])
        n = 0
        async with tinyagent.stream(m, ctx, transport=transport) as events:
            async for _ in events:
                n += 1
        msg = events.message
        assert msg is not None and msg.error_message is None, msg
        return n

    return run


async def path_openai(base: str, model: str) -> int:
    """The official openai SDK, streaming chat completions."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base, api_key="bench", max_retries=0)
    n = 0
    stream = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "go"}], stream=True
    )
    async for _ in stream:
        n += 1
    await client.close()
    return n


PATHS: dict[str, tuple[str, Callable[[str, str], Awaitable[int]]]] = {
    "floor": ("raw httpx aiter_bytes (floor)", path_floor),
    "pure": ("tinyagent pure (httpx)", _tinyagent_path("httpx")),
    "native-parser": ("tinyagent native parser + httpx", _tinyagent_path("httpx+native")),
    "native": ("tinyagent native transport", _tinyagent_path("native")),
    "httpx-sse": ("httpx-sse + json.loads", path_httpx_sse),
    "openai": ("openai SDK", path_openai),
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_one(path: str, base: str, model: str, backend: str) -> dict[str, Any]:
    import anyio

    fn = PATHS[path][1]
    # Warm up imports and the connection machinery on a tiny stream first.
    anyio.run(fn, base, model.split("-")[0] + "-10", backend=backend)
    rss0 = _maxrss_mb()
    c0 = _cpu()
    t0 = time.perf_counter()
    count = anyio.run(fn, base, model, backend=backend)
    return {
        "cpu": _cpu() - c0,
        "wall": time.perf_counter() - t0,
        "rss_growth_mb": _maxrss_mb() - rss0,
        "count": count,
    }


# --- the driver -------------------------------------------------------------------


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_bench_server.py"), "trio"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def run_child(path: str, base: str, model: str, backend: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", path, base, model, backend],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def available(path: str) -> bool:
    mod = {"openai": "openai", "httpx-sse": "httpx_sse"}.get(path)
    if mod is None:
        return True
    try:
        __import__(mod)
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=4, metavar=("PATH", "BASE", "MODEL", "BACKEND"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument(
        "--kinds",
        default="text,tools,atext,atools,rtext,rtools",
        help="streams (a…: Anthropic Messages, r…: OpenAI Responses)",
    )
    ap.add_argument("--backend", default="asyncio", help="event loop for the client")
    ap.add_argument("--repeat", type=int, default=3, help="best of N per measurement")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(*args.one)))
        return

    small, large = (2_000, 20_000) if args.quick else (10_000, 100_000)
    proc, base = start_server()
    try:
        rows = []
        for kind in args.kinds.split(","):
            for path in args.paths.split(","):
                if kind[0] in "argb" and path in ("httpx-sse", "openai"):
                    continue  # chat-completions clients
                if not available(path):
                    rows.append((kind, PATHS[path][0], None, None, None))
                    continue
                best: dict[int, dict[str, Any]] = {}
                for n in (small, large):
                    runs = [
                        run_child(path, base, f"{kind}-{n}", args.backend)
                        for _ in range(args.repeat)
                    ]
                    best[n] = min(runs, key=lambda r: r["cpu"])
                per_chunk = (best[large]["cpu"] - best[small]["cpu"]) / (large - small) * 1e6
                avg_large = best[large]["cpu"] / large * 1e6
                rows.append(
                    (kind, PATHS[path][0], per_chunk, avg_large, best[large]["rss_growth_mb"])
                )
                print(f"{kind:5} {PATHS[path][0]:32} {per_chunk:8.2f} µs/chunk  "
                      f"(avg at {large}: {avg_large:.2f})  rss +{best[large]['rss_growth_mb']:.1f} MB",
                      flush=True)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait()
    print()
    print(
        f"| stream | path | marginal CPU µs/chunk ({small // 1000}k→{large // 1000}k) | avg µs/chunk at {large // 1000}k | peak RSS growth MB |"
    )
    print("|---|---|---:|---:|---:|")
    for kind, name, per, avg, rss in rows:
        if per is None:
            print(f"| {kind} | {name} | not installed | | |")
        else:
            print(f"| {kind} | {name} | {per:.2f} | {avg:.2f} | {rss:.1f} |")


if __name__ == "__main__":
    main()
