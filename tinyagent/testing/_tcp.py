"""A TCP listener on 127.0.0.1 whose shutdown never loses a connection."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc

__all__ = ["serve_tcp"]


async def _accept_loop(
    sock: socket.socket,
    tg: anyio.abc.TaskGroup,
    handler: Callable[[anyio.abc.SocketStream], Awaitable[None]],
) -> None:
    # Wait for readiness, then accept synchronously: a cancelled wait loses nothing,
    # whereas cancelling asyncio's sock_accept() can drop a connection it had already
    # accepted (CPython 3.11: InvalidStateError and an unclosed socket).
    while True:
        await anyio.wait_readable(sock)
        try:
            conn, _addr = sock.accept()
        except (BlockingIOError, InterruptedError):
            continue
        tg.start_soon(_serve_socket, conn, handler, name="serve: connection")


async def _serve_socket(
    conn: socket.socket, handler: Callable[[anyio.abc.SocketStream], Awaitable[None]]
) -> None:
    conn.setblocking(False)
    # Small writes go out at once (no Nagle delay waiting on a delayed ACK).
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        stream = await anyio.abc.SocketStream.from_socket(conn)
    except BaseException:
        conn.close()
        raise
    await handler(stream)


@asynccontextmanager
async def serve_tcp(
    handler: Callable[[anyio.abc.SocketStream], Awaitable[None]],
) -> AsyncIterator[int]:
    """Serve each connection with ``handler`` in its own task; yields the port. Leaving
    the block cancels every connection task and closes the listening socket."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)  # a burst of thousands of clients (batch runs) must not drop SYNs
    sock.setblocking(False)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_accept_loop, sock, tg, handler, name="serve: accept")
            try:
                yield sock.getsockname()[1]
            finally:
                tg.cancel_scope.cancel()
    finally:
        sock.close()
