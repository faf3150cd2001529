"""The README's quick start runs as written (against the local server, not OpenAI)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tinyagent.testing import LocalServer, error_reply, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def quick_starts() -> list[str]:
    """The quick start's two blocks: the sync script, then the async program."""
    section = README.split("## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 2, "the README lost its quick start"
    return blocks[:2]


def run_file(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A block as a user runs it: saved as a file, run by this Python, nothing injected."""
    path = tmp_path / "quick_start.py"
    path.write_text(code)
    environ = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60,
        env={**environ, **env}, cwd=tmp_path,
    )  # fmt: skip


def test_the_quick_start_is_short_and_without_a_key_says_so_in_one_line(tmp_path: Path) -> None:
    script, _ = quick_starts()
    assert len([line for line in script.splitlines() if line.strip()]) <= 10
    assert '"openai:gpt-4o-mini"' in script and "OPENAI_API_KEY" in script
    done = run_file(tmp_path, script)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "tinyagent: no API key for openai: set OPENAI_API_KEY, or pass api_key=... "
        "(to the Model or the call); nothing was sent\n"
    )


def test_the_async_quick_start_raises_a_typed_error_without_a_key(tmp_path: Path) -> None:
    _, program = quick_starts()
    done = run_file(tmp_path, program)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("tinyagent.messages._errors.ReplyError: no API key for openai")


async def test_quick_start_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    # The async block against the local server (its model string pointed there).
    _, program = quick_starts()
    code = program.replace('Agent("openai:gpt-4o-mini",', "Agent(SERVER.model(),")
    code = code.replace("trio.run(main)  # or: asyncio.run(main())", "")
    replies = [tool_call_reply([("add", {"a": 2, "b": 40})]), text_reply("42")]
    async with LocalServer(replies) as server:
        namespace: dict[str, Any] = {"SERVER": server}
        exec(code, namespace)
        await namespace["main"]()
        tool_result = server.requests[1].json["messages"][-1]
    assert capsys.readouterr().out.strip() == "42"
    assert tool_result == {"role": "tool", "tool_call_id": "call_0", "content": "42.0"}


def test_the_quick_starts_model_name_is_openai() -> None:
    from tinyagent import Model

    model = Model.from_name("openai:gpt-4o-mini")
    assert model.base_url == "https://api.openai.com/v1" and model.api_key_env == "OPENAI_API_KEY"
    assert model.cost is not None


def example(name: str) -> str:
    block = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", README, re.S)
    assert block is not None, f"the README lost its {name} example"
    return "import tinyagent\nfrom tinyagent import Agent\n" + block.group(1)


async def run_example(
    name: str, replies: list[Any], model_options: dict[str, Any] | None = None, **names: Any
) -> LocalServer:
    # A real module, as a user's script is: type hints resolve in its globals.
    module = types.ModuleType(f"readme_{name.replace('-', '_')}")
    sys.modules[module.__name__] = module
    try:
        async with LocalServer(replies) as server:
            module.__dict__.update(model=server.model(**(model_options or {})), **names)
            exec(example(name), module.__dict__)
            await module.main()
    finally:
        del sys.modules[module.__name__]
    return server


async def test_the_typed_tool_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    meeting = {"title": "standup", "when": "2026-11-27T09:30:00", "attendees": ["Ada"]}
    call = tool_call_reply([("book", {"meeting": meeting, "room": "Blue"})])
    server = await run_example("typed-tool", [call, text_reply("Booked.")])
    assert capsys.readouterr().out.strip() == "standup at 09:30 in Blue"
    schema = server.requests[0].json["tools"][0]["function"]["parameters"]
    assert schema["properties"]["room"]["description"] == "A room name, e.g. 'Blue'"
    assert schema["properties"]["meeting"]["properties"]["when"]["format"] == "date-time"
    result = server.requests[1].json["messages"][-1]
    assert json.loads(result["content"]) == meeting  # the returned Meeting, as JSON


async def test_the_approval_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    calls = tool_call_reply(
        [("delete", {"path": "/etc/hosts"}), ("delete", {"path": "/tmp/cache"})]
    )
    server = await run_example("approval", [calls, text_reply("Deleted one.")])
    assert capsys.readouterr().out.strip() == "Deleted one."
    results = [m for m in server.requests[1].json["messages"] if m["role"] == "tool"]
    assert "system files stay" in results[0]["content"]
    assert results[1]["content"] == "deleted /tmp/cache"


async def test_the_structured_output_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    tokyo = {"name": "Tokyo", "country": "Japan", "population": 37_000_000}
    paris = {"name": "Paris", "country": "France", "population": 11_000_000}
    replies = [text_reply(json.dumps(tokyo)), text_reply(json.dumps(paris))]
    server = await run_example("structured-output", replies)
    assert capsys.readouterr().out.splitlines() == [
        "City(name='Tokyo', country='Japan', population=37000000)",
        "City(name='Paris', country='France', population=11000000)",
    ]
    assert server.requests[0].json["response_format"]["json_schema"]["strict"] is True


async def test_the_mcp_example_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the example names the server by a relative path
    replies = [tool_call_reply([("add", {"a": 2, "b": 3})]), text_reply("5")]
    server = await run_example("mcp", replies)
    assert capsys.readouterr().out.strip() == "5"
    assert server.requests[1].json["messages"][-1]["content"] == "5"


async def test_the_sessions_example_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # chats.db is made here
    server = await run_example("sessions", [text_reply("Hello Ada."), text_reply("Ada.")])
    assert capsys.readouterr().out.strip() == "Ada."
    assert [m["content"] for m in server.requests[1].json["messages"]] == [
        "My name is Ada.",
        "Hello Ada.",
        "What is my name?",
    ]


async def test_the_context_policy_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    overflow = error_reply(400, "This model's maximum context length is 20 tokens.")
    replies = [text_reply("one"), text_reply("two"), overflow, text_reply("three")]
    server = await run_example("context-policy", replies)
    assert capsys.readouterr().out.split() == ["one", "two", "three"]
    retried = server.requests[-1].json["messages"]
    assert retried[0]["content"].startswith("(Earlier messages")
    assert retried[-1]["content"] == "third question"


async def test_the_tracing_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    await run_example("tracing", [text_reply("hello")])
    assert capsys.readouterr().out.strip() == (
        "['chat mock-model', 'invoke_agent tinyagent', 'turn 1']"
    )


def bash_example(name: str) -> str:
    block = re.search(rf"<!-- example: {name} -->\n```bash\n(.*?)```", README, re.S)
    assert block is not None, f"the README lost its {name} example"
    return block.group(1)


def run_bash(script: str, cwd: Path) -> str:
    """The README's shell lines, as a user runs them (``tinyagent`` from this install)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_batch_commands_run_in_our_format(tmp_path: Path) -> None:
    out = run_bash(bash_example("batch-ours"), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    assert {r["id"]: r["text"] for r in rows} == {
        "a": "(local server) you said: Hello",
        "b": "(local server) you said: Bonjour",
    }
    assert out.count("items: 2 (2 succeeded, 0 failed)") == 2  # the run, then the status
    # The same command again resumes: nothing is sent twice, nothing is written twice.
    again = run_bash(bash_example("batch-ours"), tmp_path)
    assert "2 from an earlier run" in again
    assert len((tmp_path / "answers.jsonl").read_text().splitlines()) == 2


def test_the_batch_command_runs_an_openai_batch_file(tmp_path: Path) -> None:
    run_bash(bash_example("batch-openai"), tmp_path)
    (row,) = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert row["custom_id"] == "request-1" and row["error"] is None
    assert row["response"]["status_code"] == 200
    body = row["response"]["body"]
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "(local server) you said: Hello"


async def test_the_batch_script_example_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts.jsonl").write_text('{"id": "a", "prompt": "hi"}\n')
    await run_example("batch-python", [text_reply("hello")])
    assert "items: 1 (1 succeeded, 0 failed)" in capsys.readouterr().out


async def test_the_budget_agent_example_stops_at_its_cap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tinyagent import ModelCost, tool

    @tool
    def search(query: str) -> str:
        """Search the web."""
        return "more to read"

    # A model priced like a mid-size one ($3 / $15 per million tokens) that keeps
    # searching: the budget ends the run, not the model.
    usage = {"prompt_tokens": 2000, "completion_tokens": 300, "total_tokens": 2300}
    replies = [
        tool_call_reply([("search", {"query": f"page {i}"})], usage=usage) for i in range(20)
    ]
    server = await run_example(
        "budget-agent", replies, {"cost": ModelCost(input=3.0, output=15.0)}, search=search
    )
    out = capsys.readouterr().out
    assert out.startswith("budget: the next call (worst case $0.0") and "max_cost cap" in out
    # $0.0105 a call, and a worst case near $0.0165 (1,000 tokens out at $15): after
    # four calls ($0.042) the fifth's does not fit in $0.05.
    assert len(server.requests) == 4


def test_the_budget_batch_example_runs(tmp_path: Path) -> None:
    out = run_bash(bash_example("budget-batch"), tmp_path)
    assert out.count("items: 2 (2 succeeded, 0 failed)") == 2
    assert "budget: $0.0000 of $0.5000 spent" in out
    assert "of $0.5000 spent at the last run's end" in out
