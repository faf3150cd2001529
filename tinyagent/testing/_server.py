"""A real HTTP/1.1 server on 127.0.0.1 that plays scripted provider replies.

It runs on anyio, so the same server works inside a trio or an asyncio test, and it
speaks real HTTP over a real socket, so the client's transport is exercised for real:
keep-alive, chunked bodies, timeouts, disconnects.
"""

from __future__ import annotations

import inspect
import json
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import attrs
import h11
from anyio.streams.tls import TLSStream

from ..messages import Model
from ._replies import Reply, error_reply
from ._tcp import serve_tcp

__all__ = ["LocalServer", "RecordedRequest"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
            529: "Overloaded"}  # fmt: skip
_MAX_HEAD = 64 * 1024
_PATHS = (
    "/chat/completions",
    "/messages",
    "/responses",
    ":streamGenerateContent",
    "/converse-stream",
)


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
    reply from the request; ``record=False`` keeps no ``requests`` (a long-lived
    server). With ``ssl_context`` it serves HTTPS (``base_url`` says so). ``server.model()`` gives a :class:`Model` pointing at it.
    After the block, ``requests`` tells what was asked and whether each response was
    finished or cut by the client; ``open_connections`` counts live connections.
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        handler: Handler | None = None,
        ssl_context: ssl.SSLContext | None = None,
        record: bool = True,
    ) -> None:
        self._ssl = ssl_context
        self._record = record
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
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}/v1"

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
        async with serve_tcp(self._serve_socket) as port:
            self._port = port
            yield self

    async def __aenter__(self) -> LocalServer:
        self._cm = self._run()
        return await self._cm.__aenter__()  # type: ignore[no-any-return]

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._cm.__aexit__(*exc)  # type: ignore[no-any-return]

    # --- HTTP (h11 does the framing) -------------------------------------------

    async def _serve_socket(self, stream: anyio.abc.SocketStream) -> None:
        conn: anyio.abc.ByteStream = stream
        if self._ssl is not None:
            try:
                conn = await TLSStream.wrap(
                    stream, server_side=True, ssl_context=self._ssl, standard_compatible=False
                )
            except BaseException as exc:
                # A client that rejected our certificate, or a shutdown mid-handshake.
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                if isinstance(exc, OSError | anyio.BrokenResourceError | anyio.EndOfStream):
                    return
                raise
        await self._serve_connection(conn)

    async def _next_event(self, stream: anyio.abc.ByteStream, h: h11.Connection) -> Any:
        while True:
            event = h.next_event()
            if event is not h11.NEED_DATA:
                return event
            h.receive_data(await stream.receive())

    async def _serve_connection(self, stream: anyio.abc.ByteStream) -> None:
        self.open_connections += 1
        self.connections_total += 1
        h = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        try:
            while True:
                event = await self._next_event(stream, h)
                if not isinstance(event, h11.Request):
                    return  # the client closed, or sent something that is not HTTP
                parts: list[bytes] = []
                while True:
                    body_event = await self._next_event(stream, h)
                    if isinstance(body_event, h11.Data):
                        parts.append(bytes(body_event.data))
                    elif isinstance(body_event, h11.EndOfMessage):
                        break
                    else:
                        return
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in event.headers}
                request = RecordedRequest(
                    event.method.decode(), event.target.decode(), headers, b"".join(parts)
                )
                if self._record:  # a long-lived server keeps nothing per request
                    self.requests.append(request)
                reply = await self._reply_for(request)
                self.active_responses += 1
                try:
                    keep = await self._respond(stream, h, request, reply)
                finally:
                    self.active_responses -= 1
                    if self.active_responses == 0 and self._responses_idle is not None:
                        self._responses_idle.set()
                if not keep or h.our_state is not h11.DONE or h.their_state is not h11.DONE:
                    return
                h.start_next_cycle()
        except (
            anyio.EndOfStream,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            h11.ProtocolError,
        ):
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
        if not request.path.split("?", 1)[0].endswith(_PATHS):
            return error_reply(
                404, f"tinyagent.testing serves {' and '.join(_PATHS)}, not {request.path}"
            )
        if not self._replies:
            n = len(self.requests)
            return error_reply(500, f"tinyagent.testing: no scripted reply left for request #{n}")
        return self._replies.popleft()

    async def _wait_or_disconnect(self, stream: anyio.abc.ByteStream, seconds: float) -> bool:
        """Sleep, but notice a client that hangs up meanwhile (returns False then)."""
        with anyio.move_on_after(seconds):
            try:
                await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return False
            return False  # unexpected bytes mid-response: treat as a broken client
        return True

    async def _respond(
        self,
        stream: anyio.abc.ByteStream,
        h: h11.Connection,
        request: RecordedRequest,
        reply: Reply,
    ) -> bool:
        if reply.no_response:
            return False  # the connection closes with no response begun
        if reply.delay and not await self._wait_or_disconnect(stream, reply.delay):
            request.client_disconnected = True
            return False
        reason = _REASONS.get(reply.status, "Status").encode()
        headers = [("content-type", reply.content_type), *reply.headers.items()]
        if reply.status != 200 or not reply.pieces:
            headers.append(("content-length", str(len(reply.body))))
            head = h.send(h11.Response(status_code=reply.status, headers=headers, reason=reason))
            body = h.send(h11.Data(data=reply.body)) if reply.body else b""
            await stream.send((head or b"") + (body or b"") + (h.send(h11.EndOfMessage()) or b""))
            request.finished = True
            return True
        headers += [("transfer-encoding", "chunked"), ("cache-control", "no-cache")]
        try:
            head = h.send(h11.Response(status_code=200, headers=headers, reason=reason))
            await stream.send(head or b"")
            for i, piece in enumerate(reply.pieces):
                if reply.disconnect_after is not None and i >= reply.disconnect_after:
                    return False  # hang up mid-body, without the terminating chunk
                stalled = reply.stall_after is not None and i == reply.stall_after
                if stalled and not await self._wait_or_disconnect(stream, reply.stall):
                    request.client_disconnected = True
                    return False
                if piece:
                    await stream.send(h.send(h11.Data(data=piece)) or b"")
                if reply.chunk_delay and not await self._wait_or_disconnect(
                    stream, reply.chunk_delay
                ):
                    request.client_disconnected = True
                    return False
            if reply.disconnect_after is not None:
                return False
            await stream.send(h.send(h11.EndOfMessage()) or b"")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            request.client_disconnected = True
            return False
        request.finished = True
        return True
