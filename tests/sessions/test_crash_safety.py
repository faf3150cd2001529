"""Sessions under real crashes and real concurrency: processes killed with SIGKILL at
random moments, and two processes writing one database file at once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio

from tinyagent import (
    Agent,
    AssistantMessage,
    Model,
    SQLiteSession,
    StreamOptions,
    ToolResultMessage,
    serde,
)
from tinyagent.messages._records import Context
from tinyagent.providers import prepare_request

HERE = Path(__file__).resolve().parent


def reload(db: Path, session_id: str) -> list[Any]:
    """What a new agent on the session starts from (the load, with its repairs)."""

    async def main() -> list[Any]:
        with SQLiteSession(db, session_id) as session:
            agent = Agent(Model("m", "http://127.0.0.1:9/v1"), session=session)
            await agent.sync_session()
            return list(agent.messages)

    return anyio.run(main)


def assert_sendable(messages: list[Any]) -> None:
    """Every tool call answered once, before the next reply; every result answers a call;
    and the chat-completions body builds."""
    open_calls: set[str] = set()
    for m in messages:
        if isinstance(m, AssistantMessage):
            assert not open_calls, f"calls {open_calls} unanswered before the next reply"
            open_calls = {c.id for c in m.tool_calls}
        elif isinstance(m, ToolResultMessage):
            assert m.tool_call_id in open_calls, f"a result for no open call: {m.tool_call_id}"
            open_calls.remove(m.tool_call_id)
    assert not open_calls
    model = Model("m", "http://127.0.0.1:9/v1")
    body = json.loads(prepare_request(model, Context("", messages), StreamOptions()).body)
    assert len(body["messages"]) >= len(messages)


def run_and_kill(db: Path, rng: random.Random) -> list[str]:
    """Start the child, let it work for a random while, SIGKILL it; the lines it printed
    (each an acknowledged message), the last one dropped if the kill cut it."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "crash_child.py"),
            str(db),
            "chat",
            rng.choice(["trio", "asyncio"]),
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    first = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            first.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert first.wait(30), "the child never acknowledged a message"
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        proc.stdout.close()
    return [line.decode() for line in lines if line.endswith(b"\n")]


def test_killed_at_random_moments_the_transcript_reloads_whole(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    rng = random.Random(int(os.environ.get("TINYAGENT_CRASH_SEED", "20261126")))
    acknowledged: list[str] = []
    for _ in range(20):
        acknowledged += run_and_kill(db, rng)
        messages = reload(db, "chat")
        assert_sendable(messages)
        stored = {serde.dumps(m) for m in messages}
        lost = [a for a in acknowledged if a.rstrip("\n") not in stored]
        assert not lost, f"{len(lost)} acknowledged message(s) lost, e.g. {lost[0][:200]}"
    assert len(acknowledged) > 40  # the children did real work between kills


def test_two_processes_append_to_one_file_at_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    n = 300
    procs = [
        subprocess.Popen([sys.executable, str(HERE / "append_child.py"), str(db), sid, str(n)])
        for sid in ("a", "b")
    ]
    try:
        codes = [p.wait(120) for p in procs]
    finally:
        for p in procs:  # never left running into the next test
            p.kill()
            p.wait()
    assert codes == [0, 0]

    async def load(sid: str) -> list[str]:
        with SQLiteSession(db, sid) as session:
            return [m.text for m in await session.load()]

    for sid in ("a", "b"):
        assert anyio.run(load, sid) == [f"{sid} {i}" for i in range(n)]
