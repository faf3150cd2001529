"""A batch process killed with SIGKILL at random moments and resumed, again and again;
SIGTERM and Ctrl-C stopping it cleanly. Every id ends up exactly once in the output."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def write_input(path: Path, n: int) -> None:
    path.write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"say {i}"}) + "\n" for i in range(n))
    )


def start(
    inp: Path, out: Path, backend: str, delay: float, grace: float = 10.0
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "batch_child.py"),
            str(inp),
            str(out),
            backend,
            str(delay),
            str(grace),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "serving"
    return proc


def finished(proc: subprocess.Popen[str]) -> str:
    """The child's last line (its summary), once it has ended."""
    assert proc.stdout is not None
    lines = proc.stdout.read().splitlines()
    proc.stdout.close()
    assert proc.wait(60) == 0
    return lines[-1]


def check_output(out: Path, n: int | None) -> list[str]:
    """Every line whole JSON, every id once; returns the ids."""
    data = out.read_bytes() if out.exists() else b""
    ids = []
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            continue  # a torn last line: the next run cuts it
        ids.append(json.loads(line)["id"])
    assert len(ids) == len(set(ids)), "an id was written twice"
    if n is not None:
        assert sorted(ids) == sorted(f"q{i}" for i in range(n))
    return ids


def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    n = 400
    write_input(inp, n)
    rng = random.Random(int(os.environ.get("TINYAGENT_CRASH_SEED", "8")))
    progress = []
    for _ in range(8):
        proc = start(inp, out, rng.choice(["trio", "asyncio"]), delay=0.02)
        time.sleep(rng.uniform(0.05, 0.5))
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
        progress.append(len(check_output(out, None)))
    proc = start(inp, out, "trio", delay=0.0)
    assert finished(proc).startswith("done")
    check_output(out, n)
    assert progress[-1] > 0  # the killed runs did write items between kills


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_taking_items_and_finishes_those_in_flight(
    tmp_path: Path, sig: signal.Signals
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(inp, 200)
    proc = start(inp, out, "trio", delay=2.0)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "10 requests"  # all 10 workers are busy
    time.sleep(0.2)
    proc.send_signal(sig)
    last = proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(10) == 0
    assert "interrupted True" in last
    # the 10 in flight at the signal finished within the grace period and were written;
    # no new item was taken
    assert len(check_output(out, None)) == 10
    proc = start(inp, out, "asyncio", delay=0.0)
    assert finished(proc).startswith("done")
    check_output(out, 200)


def test_a_second_ctrl_c_cancels_at_once(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(inp, 50)
    proc = start(inp, out, "trio", delay=30.0, grace=60.0)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "10 requests"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    assert time.monotonic() - t0 < 5
    assert proc.stdout is not None
    assert "interrupted True" in proc.stdout.read()
    proc.stdout.close()
    assert check_output(out, None) == []  # nothing finished, nothing written


def test_a_second_run_on_a_live_output_is_refused_until_the_first_is_gone(
    tmp_path: Path,
) -> None:
    """Two runs on one output would send every request twice: the second is refused
    (naming the first's pid) before it reads or cuts anything; a SIGKILLed first run
    leaves no lock behind."""
    import anyio

    from tinyagent import Model, TinyAgentError
    from tinyagent.batch import run_batch

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(inp, 50)
    first = start(inp, out, "trio", delay=2.0)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "10 requests"  # it is running
    before = out.read_bytes() if out.exists() else b""
    unused = Model("m", "http://127.0.0.1:9/v1")  # never reached: refused before any call
    with pytest.raises(TinyAgentError, match=rf"another batch run \(pid {first.pid}\)"):
        anyio.run(lambda: run_batch(inp, out, model=unused, progress=False))
    assert (out.read_bytes() if out.exists() else b"") == before
    first.kill()
    first.wait(10)
    first.stdout.close()
    proc = start(inp, out, "asyncio", delay=0.0)  # the lock died with the process
    assert finished(proc).startswith("done")
    check_output(out, 50)
