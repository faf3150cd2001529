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
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from tinyagent import (
    Agent,
    AssistantMessage,
    Model,
    StreamOptions,
    ToolResultMessage,
    serde,
)
from tinyagent.messages._records import Context
from tinyagent.providers import prepare_request

from .crash_child import store

HERE = Path(__file__).resolve().parent


def reload(db: Path | str, session_id: str) -> list[Any]:
    """What a new agent on the session starts from (the load, with its repairs)."""

    async def main() -> list[Any]:
        with store(str(db), session_id) as session:
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


def run_and_kill(db: Path | str, rng: random.Random, session_id: str = "chat") -> list[str]:
    """Start the child, let it work for a random while, SIGKILL it; the lines it printed
    (each an acknowledged message), the last one dropped if the kill cut it."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "crash_child.py"),
            str(db),
            session_id,
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


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_killed_at_random_moments_the_transcript_reloads_whole(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    db = str(tmp_path / "chat.db") if kind == "sqlite" else request.getfixturevalue("postgres_url")
    sid = f"chat-{uuid.uuid4().hex}"
    rng = random.Random(int(os.environ.get("TINYAGENT_CRASH_SEED", "20261126")))
    acknowledged: list[str] = []
    for _ in range(20):
        acknowledged += run_and_kill(db, rng, sid)
        messages = reload(db, sid)
        assert_sendable(messages)
        stored = {serde.dumps(m) for m in messages}
        lost = [a for a in acknowledged if a.rstrip("\n") not in stored]
        assert not lost, f"{len(lost)} acknowledged message(s) lost, e.g. {lost[0][:200]}"
    assert len(acknowledged) > 40  # the children did real work between kills


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_processes_append_to_one_store_at_once(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    db = (
        str(tmp_path / "shared.db") if kind == "sqlite" else request.getfixturevalue("postgres_url")
    )
    n = 300
    tag = uuid.uuid4().hex[:8]
    sids = (f"a-{tag}", f"b-{tag}", f"a-{tag}")  # two writers on one id, one on another
    procs = [
        subprocess.Popen([sys.executable, str(HERE / "append_child.py"), db, sid, str(n)])
        for sid in sids
    ]
    try:
        codes = [p.wait(120) for p in procs]
    finally:
        for p in procs:  # never left running into the next test
            p.kill()
            p.wait()
    assert codes == [0, 0, 0]

    async def load(sid: str) -> list[str]:
        with store(db, sid) as session:
            return [m.text for m in await session.load()]

    assert anyio.run(load, sids[1]) == [f"{sids[1]} {i}" for i in range(n)]
    # the two writers on one id interleave, each message once, each writer's in order
    both = anyio.run(load, sids[0])
    assert sorted(both) == sorted([f"{sids[0]} {i}" for i in range(n)] * 2)
