"""MCP servers as tools, against a real server process (tests/mcp/mcp_server.py, written
with the SDK's own server API), over stdio and streamable HTTP, on trio and asyncio."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tinyagent import Agent, TinyAgentError, ToolError, ToolResultMessage
from tinyagent.mcp import connect
from tinyagent.testing import LocalServer, ToolCallSpec, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio

SERVER = Path(__file__).with_name("mcp_server.py")
COMMAND = [sys.executable, str(SERVER)]


@pytest.fixture(autouse=True)
def quiet() -> Iterator[None]:
    """The server's log lines, kept out of the test output."""
    global QUIET
    with open(os.devnull, "w") as QUIET:
        yield


QUIET: Any = None


def result(messages: list[Any], call_id: str) -> ToolResultMessage:
    (r,) = [m for m in messages if isinstance(m, ToolResultMessage) and m.tool_call_id == call_id]
    return r


async def test_lists_the_servers_tools_with_their_schemas() -> None:
    async with connect(COMMAND, errlog=QUIET) as server:
        tools = {t.name: t for t in server.tools}
        assert server.name == "tinyagent-test"
    assert {"add", "greet", "fail", "crash", "sleep", "pid"} <= set(tools)
    add = tools["add"]
    assert add.description == "Add two integers."
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.validate({"a": 1}) == ["(root): 'b' is a required property"]


async def test_prefix_and_include() -> None:
    async with connect(COMMAND, prefix="calc.", include=["add"], errlog=QUIET) as server:
        assert [t.name for t in server.tools] == ["calc_add"]
        (add,) = server.tools
        out = await add.execute("c1", {"a": 2, "b": 40}, _no_update)
    assert out.text == "42" and out.details == {"result": 42}


async def _no_update(_: Any) -> None:
    return None


async def test_an_agent_calls_the_servers_tools() -> None:
    replies = [
        tool_call_reply(
            [
                ToolCallSpec("add", {"a": 1, "b": 2}, id="c1"),
                ToolCallSpec("greet", {"name": "Ada", "excited": True}, id="c2"),
                ToolCallSpec("fail", {"why": "testing"}, id="c3"),
                ToolCallSpec("add", {"a": "one"}, id="c4"),
            ]
        ),
        text_reply("done"),
    ]
    async with LocalServer(replies) as llm, connect(COMMAND, errlog=QUIET) as server:
        agent = Agent(llm.model(), tools=server.tools)
        new = await agent.prompt("go")
    assert result(new, "c1").text == "3" and not result(new, "c1").is_error
    assert result(new, "c2").text == "Hello, Ada!"
    failed = result(new, "c3")
    assert failed.is_error and "fail" in failed.text
    invalid = result(new, "c4")  # checked here, before any request to the server
    assert invalid.is_error and "'b' is a required property" in invalid.text


async def test_a_server_crashing_mid_call_becomes_an_error_result() -> None:
    replies = [
        tool_call_reply([ToolCallSpec("crash", {}, id="c1")]),
        tool_call_reply([ToolCallSpec("add", {"a": 1, "b": 1}, id="c2")]),
        text_reply("the server is gone"),
    ]
    async with LocalServer(replies) as llm, connect(COMMAND, errlog=QUIET) as server:
        agent = Agent(llm.model(), tools=server.tools)
        with anyio.fail_after(10):
            new = await agent.prompt("go")
    crashed = result(new, "c1")
    assert crashed.is_error and "could not run crash" in crashed.text
    after = result(new, "c2")  # a later call to the dead server fails at once too
    assert after.is_error and "tinyagent-test" in after.text
    assert new[-1].text == "the server is gone"  # type: ignore[union-attr]


async def test_abort_mid_call_returns_promptly_and_the_session_still_works() -> None:
    replies = [tool_call_reply([ToolCallSpec("sleep", {"seconds": 30}, id="c1")])]
    async with LocalServer(replies) as llm, connect(COMMAND, errlog=QUIET) as server:
        agent = Agent(llm.model(), tools=server.tools)
        tools = {t.name: t for t in server.tools}

        async def abort_soon() -> None:
            await anyio.sleep(0.5)
            agent.abort()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(abort_soon)
                new = await agent.prompt("sleep")
        aborted = result(new, "c1")
        assert aborted.is_error and "abort" in aborted.text
        again = await tools["add"].execute("c2", {"a": 5, "b": 5}, _no_update)
        assert again.text == "10"


async def test_a_tool_timeout_cancels_the_request() -> None:
    replies = [tool_call_reply([ToolCallSpec("sleep", {"seconds": 30}, id="c1")]), text_reply("")]
    async with LocalServer(replies) as llm, connect(COMMAND, tool_timeout=0.5, errlog=QUIET) as s:
        with anyio.fail_after(5):
            new = await Agent(llm.model(), tools=s.tools).prompt("sleep")
    timed_out = result(new, "c1")
    assert timed_out.is_error and "timed out" in timed_out.text


async def test_the_session_closes_with_its_block_and_the_process_ends() -> None:
    async with connect(COMMAND, errlog=QUIET) as server:
        (pid_tool,) = [t for t in server.tools if t.name == "pid"]
        pid = int((await pid_tool.execute("c1", {}, _no_update)).text)
        os.kill(pid, 0)  # alive
    with anyio.fail_after(5):
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await anyio.sleep(0.05)


async def test_an_error_in_the_block_comes_out_as_itself() -> None:
    with pytest.raises(KeyError, match="mine"):
        async with connect(COMMAND, errlog=QUIET):
            raise KeyError("mine")


async def test_a_server_that_cannot_start_is_a_clear_error() -> None:
    with pytest.raises(TinyAgentError, match="could not connect to the MCP server") as info:
        async with connect([sys.executable, "-c", "import sys; sys.exit(2)"], errlog=QUIET):
            pass
    # What went wrong, not the SDK's task-group summary.
    assert "TaskGroup" not in str(info.value) and "sub-exception" not in str(info.value)
    assert not isinstance(info.value.__cause__, BaseExceptionGroup)


async def test_a_plain_string_command_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match="as a list"):
        async with connect("python server.py"):
            pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [*COMMAND, "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_streamable_http(http_server: str) -> None:
    async def connected() -> Any:
        for _ in range(100):  # the server process is still starting
            try:
                return await _call_add(http_server)
            except TinyAgentError:
                await anyio.sleep(0.1)
        raise AssertionError("the MCP HTTP server never came up")

    with anyio.fail_after(20):
        assert await connected() == "7"


async def _call_add(url: str) -> str:
    async with connect(url, headers={"x-test": "1"}) as server:
        (add,) = [t for t in server.tools if t.name == "add"]
        return (await add.execute("c1", {"a": 3, "b": 4}, _no_update)).text


async def test_tool_errors_raise_tool_error_directly() -> None:
    async with connect(COMMAND, errlog=QUIET) as server:
        with pytest.raises(ToolError):
            await server.call_tool("fail", {"why": "x"})
