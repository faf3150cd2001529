"""A batch refuses bad settings before it touches a file, reads a line that is not
UTF-8 as a bad line (never sends it with U+FFFD in it), and says how many items an
interrupted run left (issue 21, item 21)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyagent.batch import BatchSummary, run_batch
from tinyagent.cli import main
from tinyagent.testing import LocalServer, text_reply

from .test_run_batch import ours, rows

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--concurrency", "0"], "concurrency must be a whole number >= 1, got 0"),
        (["--rpm", "-1"], "rpm must be a whole number >= 1, got -1"),
        (["--max-attempts", "0"], "max_attempts must be >= 1, got 0"),
    ],
)
def test_bad_settings_are_refused_before_any_file_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], said: str
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(3))
    argv = ["batch", "run", str(inp), "-o", str(out), "--model", "m", "--base-url", "local"]
    assert main([*argv, *flags]) == 2
    err = capsys.readouterr().err
    assert err == f"tinyagent batch: {said}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no output, sidecar, lock
    assert main(argv) == 0  # and the next run is not blocked by anything left behind


async def test_a_line_that_is_not_utf8_is_a_bad_line_not_a_mangled_prompt(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_bytes(b'{"id": "latin", "prompt": "caf\xe9"}\n' + ours(1).encode())
    async with LocalServer(handler=lambda r: text_reply("ok")) as server:
        summary = await run_batch(inp, out, model=server.model(), progress=False)
    assert summary.succeeded == 1 and summary.failed == 1 and len(server.requests) == 1
    bad = next(r for r in rows(out) if r["id"] == "latin")
    assert bad["error"]["kind"] == "bad_input"
    assert bad["error"]["message"] == (
        "line 1: not UTF-8 (byte 0xe9 at position 30); save the file as UTF-8"
    )
    assert "\ufffd" not in json.dumps(server.requests[0].json)


def test_an_interrupted_summary_says_how_many_items_were_not_run() -> None:
    summary = BatchSummary(
        total=7, succeeded=3, failed=0, input_tokens=0, output_tokens=0, cost=0.0,
        p50=None, p95=None, errors={}, interrupted=True, left=4,
    )  # fmt: skip
    assert (
        summary.text().splitlines()[0] == "items: 7 (3 succeeded, 0 failed, interrupted: 4 not run)"
    )


async def test_the_live_progress_line_fits_the_terminal() -> None:
    """A live line wider than the terminal is cut with an ellipsis, never wrapped (a
    wrapped line leaves a trail of copies as it redraws)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    import anyio

    from tinyagent.batch import BatchStats
    from tinyagent.batch._report import progress_task

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))  # 40 columns
    out = os.fdopen(slave, "w")

    class Gate:
        paused_for = 0.0
        paused_total = 0.0

    stats = BatchStats(total=10_000, done=1234, in_flight=200)
    assert len(stats.line()) > 100
    with anyio.move_on_after(0.6):
        await progress_task(stats, Gate(), out)
    out.flush()
    shown = os.read(master, 65536).decode("utf-8", "replace")
    out.close()
    os.close(master)
    assert "…" in shown and "1234/10000 done" in shown
    assert "ETA" not in shown  # the end of the line was cut, not wrapped onto another
