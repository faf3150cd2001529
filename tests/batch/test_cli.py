"""``tinyagent batch run`` and ``tinyagent batch status`` as a user types them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from tinyagent.cli import main
from tinyagent.testing import LocalServer, RecordedRequest, Reply, text_reply

from .test_run_batch import check_openai_output_line, openai_batch, ours


def echo(request: RecordedRequest) -> Reply:
    return text_reply("answer to " + request.json["messages"][-1]["content"])


@pytest.fixture
def base_url() -> Iterator[str]:
    """A local server running in a thread, for a command that runs its own event loop."""
    with (
        start_blocking_portal("trio") as portal,
        portal.wrap_async_context_manager(LocalServer(handler=echo)) as server,
    ):
        yield server.base_url


def test_run_then_status_in_our_format(
    tmp_path: Path, base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(50))
    argv = ["batch", "run", str(inp), "-o", str(out), "--model", "m", "--base-url", base_url]
    assert main([*argv, "--concurrency", "8", "--rpm", "6000"]) == 0
    printed = capsys.readouterr().out
    assert "items: 50 (50 succeeded, 0 failed)" in printed
    assert main(argv) == 0  # again: everything is done already
    assert "50 from an earlier run" in capsys.readouterr().out
    assert main(["batch", "status", str(out)]) == 0
    status = capsys.readouterr().out
    assert "items: 50 (50 succeeded, 0 failed)" in status and "latency: p50" in status
    assert len(out.read_text().splitlines()) == 50


def test_an_openai_batch_file(
    tmp_path: Path, base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "batchinput.jsonl", tmp_path / "results.jsonl"
    inp.write_text(openai_batch(20))
    argv = ["batch", "run", str(inp), "-o", str(out), "--model", "m", "--base-url", base_url]
    assert main([*argv, "--format", "openai-batch", "--backend", "asyncio"]) == 0
    for line in out.read_text().splitlines():
        check_openai_output_line(json.loads(line))
    assert main(["batch", "status", str(out)]) == 0
    assert "items: 20 (20 succeeded, 0 failed)" in capsys.readouterr().out


def test_errors_are_said_plainly(
    tmp_path: Path, base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(ours(2) + ours(1))
    argv = ["batch", "run", str(inp), "-o", str(out), "--model", "m", "--base-url", base_url]
    assert main(argv) == 2
    assert "appears more than once" in capsys.readouterr().err
    assert main(["batch", "status", str(tmp_path / "nope.jsonl")]) == 2
    assert main([*argv[:-2], "--base-url", base_url, "--api-key-env", "NO_SUCH_VAR_X"]) == 2
    assert "no API key for 127.0.0.1: set NO_SUCH_VAR_X" in capsys.readouterr().err
