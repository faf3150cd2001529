"""``async with tinyagent.mcp.connect(...) as server:``: an MCP server's tools as ours.

The session lives in the caller's task (the SDK's own task group opens inside the
block), so it closes with the block on trio and asyncio alike, and a tool call is an
ordinary awaited request in the calling tool's task: cancelling the call (abort,
timeout, ``cancel_tool_call``) cancels the request. A server that dies or answers
garbage fails the calls in flight and after as error results the model sees, never as
a hung run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TextIO

import mcp
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from .._util.groups import innermost
from .._util.json import dumps
from ..messages import TextContent, TinyAgentError, ToolError
from ..tools import Tool, ToolResult, ToolUpdate
from ._convert import content_parts, model_facing_name, server_tool

__all__ = ["MCPConnection", "connect"]

_PAGE_LIMIT = 1000  # tools/list pages followed before giving up on a looping server


def _describe(server: Any) -> str:
    if isinstance(server, mcp.StdioServerParameters):
        return " ".join([server.command, *server.args])
    if isinstance(server, str):
        return server
    if isinstance(server, Sequence):
        return " ".join(map(str, server))
    return type(server).__name__


def _transport(
    server: Any,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    headers: Mapping[str, str] | None,
    errlog: TextIO | None,
    stack: AsyncExitStack,
) -> Any:
    if isinstance(server, str):
        if not server.startswith(("http://", "https://")):
            raise TypeError(
                f"connect({server!r}): a string is a streamable-HTTP URL (http:// or https://); "
                "give a stdio server's command as a list, e.g. connect(['python', 'server.py'])"
            )
        client = None
        if headers:
            import httpx2  # the SDK's HTTP client

            client = httpx2.AsyncClient(headers=dict(headers))
            stack.push_async_callback(client.aclose)  # ours to close, not the SDK's
        return streamable_http_client(server, http_client=client)
    if isinstance(server, Sequence):
        if not server or not all(isinstance(a, str) for a in server):
            raise TypeError(f"a stdio server's command is a non-empty list of str, got {server!r}")
        server = mcp.StdioServerParameters(
            command=server[0],
            args=list(server[1:]),
            env=dict(env) if env else None,
            cwd=str(cwd) if cwd is not None else None,
        )
    if isinstance(server, mcp.StdioServerParameters):
        return stdio_client(server, errlog=errlog if errlog is not None else _stderr(stack))
    return server  # an mcp Transport (or an in-process server, for the SDK's Client)


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
    return True


def _stderr(stack: AsyncExitStack) -> TextIO:
    """Where a stdio server's stderr goes by default: ours, or the process's own when
    ours is not a file (a notebook, a captured test), else nowhere."""
    for stream in (sys.stderr, sys.__stderr__):
        if stream is not None and _has_fileno(stream):
            return stream
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed with the connection
    stack.callback(devnull.close)
    return devnull


class MCPConnection:
    """An open MCP session: :attr:`tools` for an agent, :meth:`call_tool` to call one
    directly, :attr:`client` for the rest of the SDK's client API."""

    def __init__(
        self,
        client: mcp.Client,
        what: str,
        prefix: str,
        include: Sequence[str] | None,
        tool_options: Mapping[str, Any],
    ) -> None:
        self.client = client
        self._what = what
        self._prefix = prefix
        self._include = frozenset(include) if include is not None else None
        self._tool_options = dict(tool_options)
        self.tools: tuple[Tool, ...] = ()

    @property
    def name(self) -> str:
        """The server's name, as it introduced itself."""
        info = self.client.server_info
        return info.name if info is not None else self._what

    @property
    def instructions(self) -> str | None:
        """What the server says about using it (for a system prompt), if anything."""
        return self.client.instructions

    async def refresh_tools(self) -> tuple[Tool, ...]:
        """List the server's tools again (all pages) and return them as :class:`Tool`\\ s."""
        listed = []
        cursor: str | None = None
        for _ in range(_PAGE_LIMIT):
            page = await self.client.list_tools(cursor=cursor)
            listed += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        tools = []
        for t in listed:
            if self._include is not None and t.name not in self._include:
                continue
            name = model_facing_name(self._prefix, t.name)
            tools.append(server_tool(t, name, self._executor(t.name), **self._tool_options))
        self.tools = tuple(tools)
        return self.tools

    def _executor(self, server_name: str) -> Any:
        async def execute(call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult:
            async def progress(done: float, total: float | None, message: str | None) -> None:
                await update({"progress": done, "total": total, "message": message})

            return await self.call_tool(server_name, args, progress=progress)

        return execute

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any], *, progress: Any = None
    ) -> ToolResult:
        """Call the server's tool ``name`` (its own name, without the prefix). A failed
        call raises :class:`ToolError` saying what the server (or its absence) said;
        ``details`` holds the call's structured content."""
        try:
            result = await self.client.call_tool(name, dict(arguments), progress_callback=progress)
        except Exception as exc:  # the server died, timed out or broke the protocol
            why = str(exc) or type(exc).__name__
            raise ToolError(f"the MCP server {self.name!r} could not run {name}: {why}") from exc
        parts = content_parts(result.content)
        if result.is_error:
            text = "".join(p.text for p in parts if hasattr(p, "text")) or "(no message)"
            raise ToolError(text)
        if not parts and result.structured_content is not None:
            parts = [TextContent(dumps(result.structured_content).decode())]
        return ToolResult(parts, details=result.structured_content)


@asynccontextmanager
async def connect(
    server: str | Sequence[str] | mcp.StdioServerParameters | Any,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    headers: Mapping[str, str] | None = None,
    prefix: str = "",
    include: Sequence[str] | None = None,
    tool_timeout: float | None = None,
    requires_approval: bool = False,
    sequential: bool = False,
    errlog: TextIO | None = None,
) -> AsyncIterator[MCPConnection]:
    """Connect to an MCP server for the block and list its tools.

    ``server`` is a command list (``["python", "server.py"]``, run over stdio with
    ``env`` and ``cwd``), a streamable-HTTP URL (with ``headers``, e.g. for auth), an
    ``mcp.StdioServerParameters``, or an ``mcp`` transport. ``prefix`` is put before each
    tool's name (``"github_"``) to keep servers apart; ``include`` keeps only the named
    tools; ``tool_timeout`` (each call's, None: the agent's), ``requires_approval`` and
    ``sequential`` are set on every tool.
    ``errlog`` receives a stdio server's stderr (a real file, with a ``fileno``; default:
    ours).
    """
    what = _describe(server)
    options: dict[str, Any] = {
        "timeout": tool_timeout,
        "requires_approval": requires_approval,
        "sequential": sequential,
    }
    failed: Exception | None = None
    async with AsyncExitStack() as stack:
        transport = _transport(server, env, cwd, headers, errlog, stack)
        try:
            client = await stack.enter_async_context(mcp.Client(transport))
            connection = MCPConnection(client, what, prefix, include, options)
            await connection.refresh_tools()
        except Exception as exc:
            cause = innermost(exc)
            hint = ""
            if isinstance(server, list | tuple | mcp.StdioServerParameters) and errlog is None:
                hint = " (the server's own stderr, above, says why it stopped)"
            raise TinyAgentError(
                f"could not connect to the MCP server {what}: {type(cause).__name__}: {cause}{hint}"
            ) from cause
        try:
            yield connection
        except Exception as exc:  # the block's own error: re-raised as itself, below,
            failed = exc  # not wrapped in the SDK task group's exception group
    if failed is not None:
        raise failed
