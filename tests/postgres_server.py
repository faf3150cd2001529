"""A real PostgreSQL server for the tests: a fresh cluster in a temporary folder,
listening on 127.0.0.1 at a free port, stopped when the tests end. Needs Debian's
``postgresql`` package (``.ci/run`` installs it); as root the cluster runs as the
``postgres`` user, as PostgreSQL requires."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if versions:
        return Path(versions[-1]).parent
    raise RuntimeError(
        "PostgreSQL's server is not installed: apt-get install postgresql (.ci/run does)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """``postgresql://...`` of a new, empty cluster for the block."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="tinyagent-pg-"))
    data = root / "data"
    port = _free_port()
    as_root = os.geteuid() == 0

    def run(*cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if as_root else list(cmd)
        done = subprocess.run(full, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    if as_root:
        shutil.chown(root, "postgres", "postgres")
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off"
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
