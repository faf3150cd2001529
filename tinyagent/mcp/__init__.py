"""MCP servers as tools: ``async with tinyagent.mcp.connect([...]) as server:``.

Needs the ``mcp`` extra (``pip install 'tinyagent-sdk[mcp]'``), the official SDK; it is
built on anyio, so a session is an ordinary block in the caller's task, on trio and
asyncio alike::

    async with tinyagent.mcp.connect(["python", "server.py"]) as server:
        agent = Agent(model, tools=server.tools)
        await agent.prompt("...")

It imports ``tools``, ``messages`` and ``_util`` (and the ``mcp`` extra); nothing in
tinyagent imports it.
"""

try:
    import mcp as _mcp  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError("tinyagent.mcp needs the MCP SDK: pip install 'tinyagent-sdk[mcp]'") from exc

from ._connect import MCPConnection, connect

__all__ = ["MCPConnection", "connect"]
