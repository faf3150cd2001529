"""Native streams share one wake-up descriptor per event loop: N concurrent calls need
about N descriptors (their sockets), not 2N; and running out of descriptors ends calls
as failed messages, never as an exception out of ``complete()``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("fd_child.py")
SERVER = Path(__file__).with_name("fd_server.py")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, str(SERVER)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def run(base_url: str, limit: int, n: int, backend: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(CHILD), base_url, str(limit), str(n), backend],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_1000_concurrent_calls_fit_in_1300_descriptors(base_url: str, backend: str) -> None:
    # 1,000 sockets and the interpreter's own: with a pipe per stream this needed 2,000+.
    result = run(base_url, 1300, 1000, backend)
    assert result == {"ok": 1000, "errors": {}, "raised": []}


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_running_out_of_descriptors_fails_calls_as_data(base_url: str, backend: str) -> None:
    result = run(base_url, 600, 1000, backend)
    assert result["raised"] == []  # no call raised
    errors = result["errors"]
    assert isinstance(errors, dict) and sum(errors.values()) > 0
    assert result["ok"] + sum(errors.values()) == 1000  # type: ignore[operator]
