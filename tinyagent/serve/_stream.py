"""A streamed answer whose run ends when its client hangs up.

Starlette's ``StreamingResponse`` notices a disconnect only when a write fails (ASGI
2.4) — a run busy in a tool for a minute would go on for that minute. Here a task
listens for ``http.disconnect`` beside the writer, under one cancel scope: a client
that leaves cancels the run at once, and the run's own cancellation rules keep its
transcript valid (an open call answered as aborted, nothing half-stored).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["Emit", "EventStream"]

logger = logging.getLogger("tinyagent.serve")

Emit = Callable[[bytes], Awaitable[None]]


class EventStream(Response):
    """An ASGI response: ``produce(emit)`` writes the body, chunk by chunk; ``release``
    runs once the response is over, however it ended (a run slot given back)."""

    def __init__(
        self,
        produce: Callable[[Emit], Awaitable[None]],
        *,
        media_type: str = "text/event-stream",
        headers: Mapping[str, str] | None = None,
        release: Callable[[], None] | None = None,
        failed: Callable[[str], bytes] | None = None,
    ) -> None:
        self._produce = produce
        self._release = release
        self._failed = failed
        self._raw_headers = [
            (b"content-type", media_type.encode()),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # nginx: do not hold the events back
            *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
        ]
        self.disconnected = False
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._run(receive, send)
        finally:
            if self._release is not None:
                self._release()

    async def _run(self, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self._raw_headers})

        async def emit(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                while True:
                    message: Any = await receive()
                    if message["type"] == "http.disconnect":
                        self.disconnected = True
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch)
            try:
                await self._produce(emit)
            except OSError:  # a write to a connection already gone
                self.disconnected = True
            except Exception as exc:  # after the 200: said in the protocol's words
                # the type only: an error's words may quote what a log must not keep
                logger.error("a streamed answer failed: %s", type(exc).__name__)
                if self._failed is not None:
                    with contextlib.suppress(OSError):
                        await emit(
                            self._failed("the server failed while answering; it has been logged")
                        )
            tg.cancel_scope.cancel()
        if not self.disconnected:
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
