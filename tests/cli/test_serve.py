"""``tinyagent serve`` as a user runs it: usage errors in one line with status 2, the
demo served with no arguments, and SIGTERM handled as a server must (running streams
finish within the grace period, or are cut and leave their conversation whole), on
hypercorn (trio) and uvicorn (asyncio)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest

from tinyagent import Agent, Model, SQLiteSession, ToolResultMessage

from ..sessions.test_crash_safety import assert_sendable

AGENTS = textwrap.dedent(
    """
    import time
    import anyio
    from tinyagent import Agent, tool
    from tinyagent.testing import local_model

    @tool
    async def nap(seconds: float) -> str:
        \"\"\"Sleep a while.\"\"\"
        await anyio.sleep(seconds)
        return "rested"

    def napper():
        return Agent(local_model(), "You nap.", [nap])
    """
)


def _serve(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(cwd / "state")}
    return subprocess.Popen(
        [sys.executable, "-m", "tinyagent", "serve", "--port", "0", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


@contextmanager
def running(cwd: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = _serve(cwd, *args)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("tinyagent serve: http://"), (
            proc.stderr.read() if proc.stderr else line
        )
        yield proc, line.split()[2]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--agent", "nomodule:x"], "cannot import 'nomodule'"),
        (["--agent", "nocolon"], "expected MODULE:FACTORY"),
        (["--host", "0.0.0.0"], "without a token lets anyone on the network run your agents"),
        (["--token-env", "TINYAGENT_NO_SUCH_VAR"], "the variable is not set"),
        (["--name", "a"], "more --name than --agent"),
        (["--session-db", "postgresql://u:pw@127.0.0.1:1/db"], "postgresql://u@127.0.0.1:1/db"),
    ],
)
def test_a_usage_error_is_one_line_and_status_2(
    tmp_path: Path, args: list[str], words: str
) -> None:
    proc = _serve(tmp_path, *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("tinyagent serve: ")
    assert "Traceback" not in err
    assert words in err
    assert ":pw@" not in err


def test_the_demo_is_served_with_no_arguments(tmp_path: Path) -> None:
    with running(tmp_path) as (proc, url):
        r = httpx.post(url + "/v1/chat/completions", timeout=30,
                       json={"model": "demo", "messages": [{"role": "user", "content": "what is 6*7"}]})  # fmt: skip
        assert "6*7 = 42" in r.json()["choices"][0]["message"]["content"]
        page = httpx.get(url + "/", timeout=10)
        assert page.status_code == 200 and "<title>tinyagent</title>" in page.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def _stream_in_thread(url: str, body: dict[str, object], out: list[str]) -> threading.Thread:
    def go() -> None:
        try:
            with httpx.stream("POST", url, json=body, timeout=60) as r:
                out.extend(line for line in r.iter_lines() if line)
        except httpx.HTTPError as exc:
            out.append(f"!{type(exc).__name__}")

    t = threading.Thread(target=go)
    t.start()
    return t


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_sigterm_lets_a_running_stream_finish_within_the_grace(tmp_path: Path, server: str) -> None:
    (tmp_path / "napagents.py").write_text(AGENTS)
    with running(tmp_path, "--agent", "napagents:napper", "--server", server, "--grace", "20") as (
        proc,
        url,
    ):
        lines: list[str] = []
        body = {
            "model": "napper",
            "stream": True,
            "messages": [{"role": "user", "content": "nap 1.5"}],
        }
        t = _stream_in_thread(url + "/v1/chat/completions", body, lines)
        while not lines:  # the run has begun (its first chunk came)
            t.join(0.05)
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert proc.wait(60) == 0
        with pytest.raises(httpx.ConnectError):  # no longer accepting
            httpx.get(url + "/healthz", timeout=5)
    assert lines[-1] == "data: [DONE]"
    text = "".join(
        json.loads(x[6:])["choices"][0]["delta"].get("content") or ""
        for x in lines if x.startswith("data: {") and json.loads(x[6:])["choices"]
    )  # fmt: skip
    assert text == "rested"


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_sigterm_past_the_grace_cuts_the_run_and_leaves_its_conversation_whole(
    tmp_path: Path, server: str
) -> None:
    (tmp_path / "napagents.py").write_text(AGENTS)
    db = tmp_path / "conversations.db"
    args = (
        "--agent",
        "napagents:napper",
        "--server",
        server,
        "--grace",
        "1",
        "--session-db",
        str(db),
    )
    with running(tmp_path, *args) as (proc, url):
        lines: list[str] = []
        body = {"model": "napper", "stream": True, "input": "nap 60"}
        t = _stream_in_thread(url + "/v1/responses", body, lines)
        while not any("response.created" in x for x in lines):
            t.join(0.05)
        created = next(
            json.loads(x[6:]) for x in lines if x.startswith("data: ") and "response.created" in x
        )
        conversation = created["response"]["id"].split("_")[1]
        t.join(0.5)  # the nap has begun
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert proc.wait(60) == 0

    async def reload() -> list[object]:
        with SQLiteSession(db, conversation) as session:
            agent = Agent(Model("m", "http://127.0.0.1:9/v1"), session=session)
            await agent.sync_session()
            return list(agent.messages)

    messages = anyio.run(reload)
    assert_sendable(messages)  # every call answered once; nothing half-stored
    assert [m.role for m in messages][:2] == ["user", "assistant"]
    assert any(isinstance(m, ToolResultMessage) and m.is_error for m in messages)


def test_tokens_from_a_file_are_required_and_scoped(tmp_path: Path) -> None:
    (tmp_path / "tokens.json").write_text('[{"token": "sk-web", "agents": ["demo"]}]')
    with running(tmp_path, "--token-file", "tokens.json") as (proc, url):
        body = {"model": "demo", "messages": [{"role": "user", "content": "1+1"}]}
        missing = httpx.post(url + "/v1/chat/completions", json=body, timeout=30)
        assert missing.status_code == 401 and "Bearer" in missing.json()["error"]["message"]
        ok = httpx.post(url + "/v1/chat/completions", json=body, timeout=30,
                        headers={"authorization": "Bearer sk-web"})  # fmt: skip
        assert ok.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
