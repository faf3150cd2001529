"""``local_model()``: the scripted model on a local server that runs in a thread of its
own, so sync code (``agent.run_sync``) and any event loop can use it without a block.

Why a thread: a server inside the caller's event loop would have to be opened around
every use (``async with LocalServer(...)``); a quick start or a script has no such
block. The thread's server is started once per process, on 127.0.0.1 at a free port,
and lives until the process ends (a daemon thread: it never keeps a program alive).
"""

from __future__ import annotations

import threading
from typing import Any

import anyio

from ..messages import Model
from ._scripted import scripted_reply
from ._server import Handler, LocalServer

__all__ = ["local_model"]

_lock = threading.Lock()
_base_urls: dict[Handler, str] = {}


def _start(handler: Handler) -> str:
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with LocalServer(handler=handler, record=False) as server:
            box["url"] = server.base_url
            started.set()
            await anyio.sleep_forever()

    def run() -> None:
        try:
            anyio.run(serve)
        except BaseException as exc:  # pragma: no cover - reported to the caller below
            box["error"] = exc
            started.set()

    threading.Thread(target=run, name="tinyagent-local-server", daemon=True).start()
    if not started.wait(30) or "url" not in box:
        raise RuntimeError(f"the built-in local server did not start: {box.get('error')!r}")
    return str(box["url"])


def local_model(id: str = "local", *, handler: Handler | None = None, **kwargs: Any) -> Model:
    """A :class:`Model` served by the built-in local server's scripted model: no key, no
    network, every wire format (``api="anthropic-messages"``, ``"openai-responses"``).

    What it answers: each user turn it calls every tool offered once, with arguments
    built from the tool's schema and the numbers in the user's text, then answers with
    the tools' results; structured output gets JSON that fits its schema; a plain
    question gets ``"You said: ..."``. For replies of your own, script a
    :class:`LocalServer` — or pass ``handler`` (a function from the request to its
    reply), served by a thread of its own the same way.
    """
    handler = handler or scripted_reply
    with _lock:
        base_url = _base_urls.get(handler)
        if base_url is None:
            base_url = _base_urls[handler] = _start(handler)
    kwargs.setdefault("provider", "local")
    return Model(id, base_url, **kwargs)
