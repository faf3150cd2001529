"""Serving: one served agent, 1,000 concurrent streaming clients on one server process;
and the proxy path's CPU per relayed event against LiteLLM's proxy relaying the same
stream, in the same run.

Three processes per measurement, so that only the server's own CPU is counted:

- the upstream "model" (raw asyncio, here): an OpenAI chat-completions stream of
  ``--chunks`` text chunks, one every ``--gap`` seconds, each carrying the time it was
  sent;
- the server under test (``tinyagent serve`` on hypercorn/trio or uvicorn/asyncio, or
  ``litellm``), its CPU read from ``/proc/<pid>/stat`` (user + system) before and after;
- the clients (raw asyncio + h11 in this process): ``--clients`` at once, each doing
  ``--runs`` streamed requests one after another; each event's delay is the time it
  arrived minus the time the upstream sent it.

What the server adds to an event's delay is its delay through the server minus the
same clients' delay reading the upstream directly, at each percentile.

    python3 benches/bench_serve.py --litellm /tmp/litellm/bin/litellm   # ours, both servers, LiteLLM
    python3 benches/bench_serve.py --clients 100 --no-litellm   # a smoke run

LiteLLM lives in a venv of its own (``litellm[proxy]`` pins ``rich<14``, which the
project's lint tools cannot use): ``python3 -m venv /tmp/litellm &&
/tmp/litellm/bin/pip install 'litellm[proxy]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h11

TICKS = os.sysconf("SC_CLK_TCK")


# --- the upstream model ----------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "created": 1700000000,
           "model": "bench", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


async def upstream(port_file: str, chunks: int, gap: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = await reader.readexactly(length)
                asked = re.search(rb"go (\d+)", request)
                n = int(asked.group(1)) if asked else chunks
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n")  # fmt: skip

                def send(data: bytes) -> None:
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))

                send(_chunk({"role": "assistant", "content": ""}))
                if b"hold" in request and b'"role":"tool"' not in request.replace(b" ", b""):
                    call = {"index": 0, "id": "call_1", "type": "function",
                            "function": {"name": "hold", "arguments": '{"seconds": 60}'}}  # fmt: skip
                    send(_chunk({"tool_calls": [call]}))
                    send(_chunk({}, "tool_calls"))
                    send(b"data: [DONE]\n\n")
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                    continue
                for _ in range(n):
                    await asyncio.sleep(gap)
                    send(_chunk({"content": f"t{time.time():.6f} "}))
                send(_chunk({}, "stop"))
                send(_chunk({}, None).replace(b'"choices":[{"index":0,"delta":{},"finish_reason":null}]',
                     b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":20,"total_tokens":25}'))  # fmt: skip
                send(b"data: [DONE]\n\n")
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240 - once, at start
    async with server:
        await server.serve_forever()


# --- the clients -------------------------------------------------------------------------


async def one_request(port: int, path: str, body: bytes, delays: list[float]) -> int:
    """One streamed request; each event's delay appended; the events counted."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    req = h11.Request(method="POST", target=path, headers=[
        ("host", "127.0.0.1"), ("content-type", "application/json"),
        ("content-length", str(len(body))), ("authorization", "Bearer sk-bench")])  # fmt: skip
    writer.write(conn.send(req) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
    buffer = b""
    events = 0
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            if isinstance(event, h11.Response) and event.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {event.status_code}")
            if isinstance(event, h11.Data):
                buffer += bytes(event.data)
                *blocks, buffer = buffer.split(b"\n\n")
                now = time.time()
                for block in blocks:
                    at = block.find(b'"t1')
                    if at < 0:
                        at = block.find(b"t1")
                    mark = block.find(b"t17", at) if at >= 0 else -1
                    if mark >= 0:
                        stamp = float(block[mark + 1 : mark + 18].split(b" ")[0])
                        delays.append(now - stamp)
                        events += 1
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return events
    finally:
        writer.close()


async def load(port: int, path: str, body: bytes, clients: int, runs: int) -> dict[str, Any]:
    delays: list[float] = []
    counts: list[int] = []

    async def client() -> None:
        for _ in range(runs):
            counts.append(await one_request(port, path, body, delays))

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - start
    delays.sort()
    return {"wall": wall, "events": sum(counts), "runs": len(counts), "delays": delays}


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# --- the servers ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads (children not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], within: float = 60) -> None:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server never listened")


AGENTS = """
import os
import time
from pathlib import Path

import anyio
from tinyagent import Agent, Model, tool


def echo():
    return Agent(Model("bench", os.environ["BENCH_UPSTREAM"], provider="bench"), "")


@tool
async def hold(seconds: float) -> str:
    \"\"\"Hold the run.\"\"\"
    Path("held").write_text(str(time.time()))
    try:
        await anyio.sleep(seconds)
    finally:
        Path("cancelled").write_text(str(time.time()))
    return "held"


def holder():
    return Agent(Model("bench", os.environ["BENCH_UPSTREAM"], provider="bench"), "", [hold])
"""


def start_ours(server: str, up_port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    (workdir / "benchagents.py").write_text(AGENTS)
    port = free_port()
    env = {**os.environ, "BENCH_UPSTREAM": f"http://127.0.0.1:{up_port}/v1",
           "XDG_STATE_HOME": str(workdir), "BENCH_TOKEN": "sk-bench"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyagent", "serve", "--agent", "benchagents:echo",
         "--agent", "benchagents:holder",
         "--model", "bench", "--base-url", f"http://127.0.0.1:{up_port}/v1",
         "--port", str(port), "--server", server, "--runs-per-token", "100000",
         "--token-env", "BENCH_TOKEN",
         "--session-db", str(workdir / "s.db")],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_listening(port, proc)
    return proc, port


def start_litellm(
    up_port: int, workdir: Path, exe: str | None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    exe = exe or shutil.which("litellm")
    assert exe is not None, "no litellm: pass --litellm PATH (a venv of its own, see the top)"
    env = {**os.environ, "OPENAI_API_KEY": "sk-upstream", "LITELLM_LOG": "ERROR",
           "LITELLM_MASTER_KEY": "sk-bench"}  # fmt: skip
    proc = subprocess.Popen(
        [exe, "--model", "openai/bench", "--api_base", f"http://127.0.0.1:{up_port}/v1",
         "--port", str(port), "--host", "127.0.0.1", "--num_workers", "1"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_listening(port, proc, 120)
    return proc, port


def measure(label: str, pid: int | None, port: int, path: str, body: dict[str, Any],
            clients: int, runs: int, short: int, long: int) -> dict[str, Any]:  # fmt: skip
    """Two passes, ``short`` and ``long`` chunks a run: the server's CPU per event is the
    marginal cost between them (per-run costs cancel), and per run what remains."""
    passes = []
    for n in (short, long):
        raw = json.dumps(body).replace("go N", f"go {n}").encode()
        asyncio.run(load(port, path, raw, min(clients, 20), 1))  # warm-up
        before = cpu_seconds(pid) if pid else 0.0
        result = asyncio.run(load(port, path, raw, clients, runs))
        result["cpu"] = (cpu_seconds(pid) - before) if pid else 0.0
        passes.append(result)
    a, b = passes
    extra = b["events"] - a["events"]
    per_event = (b["cpu"] - a["cpu"]) / extra if extra > 0 else float("nan")
    per_run = (a["cpu"] - per_event * a["events"]) / a["runs"]
    return {**a, "label": label, "per_event": per_event, "per_run": per_run, "long": b}


async def hang_up_once(port: int, workdir: Path) -> float:
    """Start a run whose tool holds it, hang up once the tool runs; the seconds from the
    hang-up to the tool's cancellation (read from the files the tool writes)."""
    for name in ("held", "cancelled"):
        (workdir / name).unlink(missing_ok=True)
    body = json.dumps({"model": "holder", "stream": True,
                       "messages": [{"role": "user", "content": "hold"}]}).encode()  # fmt: skip
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    req = h11.Request(method="POST", target="/v1/chat/completions", headers=[
        ("host", "x"), ("content-type", "application/json"), ("content-length", str(len(body))),
        ("authorization", "Bearer sk-bench")])  # fmt: skip
    writer.write(conn.send(req) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
    await writer.drain()
    while not (workdir / "held").exists():  # noqa: ASYNC110 - another process writes it
        await asyncio.sleep(0.005)
    hung_up = time.time()
    writer.transport.abort()
    while not (workdir / "cancelled").exists():  # noqa: ASYNC110 - another process writes it
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # let the file's text land
    return float((workdir / "cancelled").read_text()) - hung_up


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--long", type=int, default=100, help="chunks a run in the second pass")
    ap.add_argument("--gap", type=float, default=0.02)
    ap.add_argument("--servers", default="hypercorn,uvicorn")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--litellm", help="the litellm command (default: the one on PATH)")
    args = ap.parse_args()
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    port_file = workdir / "upstream.port"
    up = subprocess.Popen([sys.executable, __file__, "--upstream", str(port_file),
                           str(args.chunks), str(args.gap)])  # fmt: skip
    procs = [up]
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        up_port = int(port_file.read_text())
        chat = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "go N"}]}
        rows = [measure("upstream, read directly", None, up_port, "/v1/chat/completions",
                        chat, args.clients, args.runs, args.chunks, args.long)]  # fmt: skip
        direct = rows[0]["delays"]
        disconnects: list[tuple[str, list[float]]] = []
        for server in args.servers.split(","):
            proc, port = start_ours(server, up_port, workdir)
            procs.append(proc)
            served = {**chat, "model": "echo"}
            rows.append(measure(f"tinyagent serve ({server}): served agent, /v1/chat/completions",
                                proc.pid, port, "/v1/chat/completions", served, args.clients, args.runs, args.chunks, args.long))  # fmt: skip
            relay = {"model": {"provider": "", "id": "bench"},
                     "context": {"system_prompt": "", "messages": [{"role": "user", "content": "go N"}]}}  # fmt: skip
            rows.append(measure(f"tinyagent serve ({server}): proxy relay, /api/stream",
                                proc.pid, port, "/api/stream", relay, args.clients, args.runs, args.chunks, args.long))  # fmt: skip
            hangups = sorted(asyncio.run(hang_up_once(port, workdir)) for _ in range(20))
            disconnects.append((server, hangups))
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        if not args.no_litellm:
            proc, port = start_litellm(up_port, workdir, args.litellm)
            procs.append(proc)
            rows.append(measure("LiteLLM proxy (1 worker): /chat/completions", proc.pid, port,
                                "/chat/completions", chat | {"model": "openai/bench"},
                                args.clients, args.runs, args.chunks, args.long))  # fmt: skip
        print(f"{args.clients} clients x {args.runs} runs, {args.chunks} (then {args.long}) chunks "
              f"{args.gap * 1000:.0f} ms apart; delays from the {args.chunks}-chunk pass\n")  # fmt: skip
        print("| path | events/s (long pass) | server CPU µs/event (marginal) | server CPU ms/run | "
              "µs/event at 20 | delay p50 ms | p99 ms | added p50 ms | added p99 ms |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            d = r["delays"]
            own = r["cpu"] > 0
            marginal = f"{r['per_event'] * 1e6:.1f}" if own else "—"
            per_run = f"{r['per_run'] * 1e3:.2f}" if own else "—"
            average = f"{r['cpu'] / max(r['events'], 1) * 1e6:.1f}" if own else "—"
            p50, p99 = pct(d, 0.5) * 1e3, pct(d, 0.99) * 1e3
            a50 = p50 - pct(direct, 0.5) * 1e3
            a99 = p99 - pct(direct, 0.99) * 1e3
            rate = r["long"]["events"] / r["long"]["wall"]
            print(f"| {r['label']} | {rate:.0f} | {marginal} | {per_run} | {average} | "
                  f"{p50:.2f} | {p99:.2f} | {a50:.2f} | {a99:.2f} |")  # fmt: skip
        print(f"\nstatistics: direct delay mean {statistics.mean(direct) * 1e3:.2f} ms")
        print("\n| server | hang-up to the run's cancellation, 20 tries: median ms | max ms |")
        print("|---|---:|---:|")
        for server, h in disconnects:
            print(f"| {server} | {statistics.median(h) * 1e3:.2f} | {max(h) * 1e3:.2f} |")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--upstream":
        asyncio.run(upstream(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    else:
        main()
