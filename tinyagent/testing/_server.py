"""A real HTTP/1.1 server on 127.0.0.1 that plays scripted chat-completion replies.

It runs on anyio, so the same server works inside a trio or an asyncio test, and it
speaks real HTTP over a real socket, so the client's transport is exercised for real:
keep-alive, chunked bodies, timeouts, disconnects.
"""

from __future__ import annotations

import inspect
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import attrs

from .._messages import Model
from ._replies import Reply, error_reply

__all__ = ["LocalServer", "RecordedRequest"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}  # fmt: skip
_MAX_HEAD = 64 * 1024


@attrs.define
class RecordedRequest:
    """What the server received, and how the response went."""

    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    finished: bool = False  # the whole scripted response was sent
    client_disconnected: bool = False  # the client closed before the end

    @property
    def json(self) -> Any:
        return json.loads(self.raw_body) if self.raw_body else None


Handler = Callable[[RecordedRequest], Reply | Awaitable[Reply]]


class LocalServer:
    """``async with LocalServer([text_reply("hi")]) as server: ...``

    Replies are served in order, one per request; or pass ``handler`` to compute each
    reply from the request. ``server.model()`` gives a :class:`Model` pointing at it.
    After the block, ``requests`` tells what was asked and whether each response was
    finished or cut by the client; ``open_connections`` counts live connections.
    """

    def __init__(self, replies: Iterable[Reply] = (), *, handler: Handler | None = None) -> None:
        self._replies: deque[Reply] = deque(replies)
        self._handler = handler
        self.requests: list[RecordedRequest] = []
        self.open_connections = 0
        self.connections_total = 0
        self._port = 0
        self._tg: anyio.abc.TaskGroup | None = None
        self._cm: Any = None
        self._idle: anyio.Event | None = None
        self.active_responses = 0
        self._responses_idle: anyio.Event | None = None

    # --- scripting ------------------------------------------------------------

    def add(self, *replies: Reply) -> None:
        self._replies.extend(replies)

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def model(self, id: str = "mock-model", **kwargs: Any) -> Model:
        kwargs.setdefault("provider", "local")
        return Model(id, self.base_url, **kwargs)

    async def wait_responses_done(self, within: float = 5.0) -> bool:
        """Wait until no response is being sent (each finished, or cut by the client).
        Unlike :meth:`wait_connections_closed`, idle keep-alive connections are fine."""
        with anyio.move_on_after(within):
            while self.active_responses:
                self._responses_idle = anyio.Event()
                await self._responses_idle.wait()
            return True
        return False

    async def wait_connections_closed(self, within: float = 5.0) -> bool:
        """Wait until every connection is closed (True), or ``within`` seconds passed."""
        with anyio.move_on_after(within):
            while self.open_connections:
                self._idle = anyio.Event()
                await self._idle.wait()
            return True
        return False

    # --- lifecycle ------------------------------------------------------------

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[LocalServer]:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self._port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, self._serve_connection)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def __aenter__(self) -> LocalServer:
        self._cm = self._run()
        return await self._cm.__aenter__()  # type: ignore[no-any-return]

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._cm.__aexit__(*exc)  # type: ignore[no-any-return]

    # --- HTTP -----------------------------------------------------------------

    async def _serve_connection(self, stream: anyio.abc.SocketStream) -> None:
        self.open_connections += 1
        self.connections_total += 1
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    if len(buf) > _MAX_HEAD:
                        return
                    buf += await stream.receive()
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                while len(buf) < length:
                    buf += await stream.receive()
                body, buf = buf[:length], buf[length:]
                request = RecordedRequest(method, path, headers, body)
                self.requests.append(request)
                reply = await self._reply_for(request)
                self.active_responses += 1
                try:
                    keep = await self._respond(stream, request, reply)
                finally:
                    self.active_responses -= 1
                    if self.active_responses == 0 and self._responses_idle is not None:
                        self._responses_idle.set()
                if not keep:
                    return
                if headers.get("connection", "").lower() == "close":
                    return
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self.open_connections -= 1
            if self.open_connections == 0 and self._idle is not None:
                self._idle.set()
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _reply_for(self, request: RecordedRequest) -> Reply:
        if self._handler is not None:
            result = self._handler(request)
            if inspect.isawaitable(result):
                result = await result
            return result
        if not request.path.endswith("/chat/completions"):
            return error_reply(
                404, f"tinyagent.testing serves /chat/completions, not {request.path}"
            )
        if not self._replies:
            n = len(self.requests)
            return error_reply(500, f"tinyagent.testing: no scripted reply left for request #{n}")
        return self._replies.popleft()

    async def _wait_or_disconnect(self, stream: anyio.abc.SocketStream, seconds: float) -> bool:
        """Sleep, but notice a client that hangs up meanwhile (returns False then)."""
        with anyio.move_on_after(seconds):
            try:
                await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return False
            return False  # unexpected bytes mid-response: treat as a broken client
        return True

    async def _respond(
        self, stream: anyio.abc.SocketStream, request: RecordedRequest, reply: Reply
    ) -> bool:
        if reply.delay and not await self._wait_or_disconnect(stream, reply.delay):
            request.client_disconnected = True
            return False
        status = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
        extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
        if reply.status != 200 or not reply.pieces:
            head = f"{status}content-type: {reply.content_type}\r\ncontent-length: {len(reply.body)}\r\n{extra}\r\n"
            await stream.send(head.encode() + reply.body)
            request.finished = True
            return True
        head = f"{status}content-type: {reply.content_type}\r\ntransfer-encoding: chunked\r\ncache-control: no-cache\r\n{extra}\r\n"
        try:
            await stream.send(head.encode())
            for i, piece in enumerate(reply.pieces):
                if reply.disconnect_after is not None and i >= reply.disconnect_after:
                    return False  # hang up mid-body, without the terminating chunk
                stalled = reply.stall_after is not None and i == reply.stall_after
                if stalled and not await self._wait_or_disconnect(stream, reply.stall):
                    request.client_disconnected = True
                    return False
                if piece:
                    await stream.send(b"%x\r\n%b\r\n" % (len(piece), piece))
                if reply.chunk_delay and not await self._wait_or_disconnect(
                    stream, reply.chunk_delay
                ):
                    request.client_disconnected = True
                    return False
            if reply.disconnect_after is not None:
                return False
            await stream.send(b"0\r\n\r\n")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            request.client_disconnected = True
            return False
        request.finished = True
        return True
