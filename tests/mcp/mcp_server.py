"""A real MCP server for the tests, written with the SDK's own server API.

``python mcp_server.py`` serves over stdio; ``python mcp_server.py http PORT`` over
streamable HTTP on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import time

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("tinyagent-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def greet(name: str, excited: bool = False) -> str:
    """Greet someone by name."""
    return f"Hello, {name}{'!' if excited else '.'}"


@server.tool()
def fail(why: str) -> str:
    """Always fails, saying why."""
    raise ValueError(f"failed on purpose: {why}")


@server.tool()
def crash() -> str:
    """Kill the server process mid-call."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
    time.sleep(0)
