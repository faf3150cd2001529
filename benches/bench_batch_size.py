"""Batches of any size: peak RSS of ``run_batch`` on a ten-million-line input, on a
fresh run and on a run resumed after a SIGKILL at line five million.

    python3 benches/bench_batch_size.py [--lines 10000000] [--done 5000000] [--run 50000]

1. Writes the input (our format, short prompts) and starts a fresh run on it against the
   bench server (a 20-chunk reply per item, concurrency 1,000, native transport). After
   ``--run`` items are written it SIGKILLs the run and reads its peak RSS (VmHWM).
2. Extends that output to ``--done`` lines, as the run writes them (its own last line
   copied with each next id), with a torn last line, as a kill mid-write leaves.
3. Resumes: the run scans the input, reads the output, skips the done ids, and runs
   ``--run`` more items; then it is killed and its peak RSS read.

Reported: each phase's peak RSS, the time to the first new line (the scan, the journal
read and the skip), and items/s over the items run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_agent import start_server  # noqa: E402


def child(base: str, input_path: str, output: str) -> None:
    from tinyagent import Model
    from tinyagent.batch import run_batch_sync

    run_batch_sync(
        input_path, output, model=Model("text-20", base), concurrency=1000, progress=False,
        stream_options={"transport": "native"},
    )  # fmt: skip


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


class _NewLines:
    """Lines appended to a file since it was first seen, reading only what is new."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.at = path.stat().st_size if path.exists() else 0

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, "rb") as f:
            f.seek(self.at)
            return f.read().count(b"\n")


def phase(base: str, inp: Path, out: Path, run: int) -> dict[str, float]:
    """Start a run, wait for ``run`` new lines, SIGKILL it: peak RSS and timings."""
    new = _NewLines(out)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", base, str(inp), str(out)], cwd="/",
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )  # fmt: skip
    first = None
    try:
        while True:
            time.sleep(0.2)
            if proc.poll() is not None:
                raise RuntimeError(f"the run ended early: {proc.returncode}")
            written = new.count()
            if first is None and written:
                first = time.perf_counter() - t0
                t_first, at_first = time.perf_counter(), written
            if first is not None and written >= run:
                break
        peak = _peak_mb(proc.pid)
        elapsed = time.perf_counter() - t_first
        done = new.count() - at_first
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return {"peak_mb": peak, "to_first_line_s": first or 0.0, "items_per_s": done / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--done", type=int, default=5_000_000)
    ap.add_argument("--run", type=int, default=50_000)
    ap.add_argument("--dir", default="/tmp/bench_batch_size")
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    inp, out = work / "in.jsonl", work / "out.jsonl"
    for stale in (out, out.with_name(out.name + ".meta.json"), out.with_name(out.name + ".lock")):
        stale.unlink(missing_ok=True)
    if not inp.exists() or _lines(inp) != args.lines:
        with open(inp, "w") as f:
            for i in range(args.lines):
                f.write(f'{{"id":"q{i}","prompt":"item {i}"}}\n')
    print(f"input: {args.lines:,} lines, {inp.stat().st_size / 1e6:.0f} MB", flush=True)
    proc, base = start_server()
    try:
        fresh = phase(base, inp, out, args.run)
        print(f"fresh run: {json.dumps(fresh)}", flush=True)
        # As a run killed at line --done leaves its output: whole lines, then a torn one.
        with open(out, "rb") as f:
            kept = [line for line in f if line.endswith(b"\n")]
        template = json.loads(kept[-1])
        ids = {json.loads(line)["id"] for line in kept}
        with open(out, "wb") as f:
            f.writelines(kept)
            written, i = len(kept), 0
            while written < args.done:
                item_id = f"q{i}"
                i += 1
                if item_id in ids:
                    continue
                template["id"] = item_id
                f.write(json.dumps(template, separators=(",", ":")).encode() + b"\n")
                written += 1
            f.write(b'{"id":"q' + str(i).encode() + b'","out')  # torn by the kill
        del ids, kept
        print(f"output: {args.done:,} done lines and a torn one", flush=True)
        resumed = phase(base, inp, out, args.run)
        print(f"resumed run: {json.dumps(resumed)}", flush=True)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
