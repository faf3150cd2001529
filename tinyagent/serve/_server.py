"""Running the application: hypercorn under trio (the reference backend), uvicorn under
asyncio. :func:`serving` runs it inside the caller's event loop (tests, embedding);
:func:`serve_forever` is the command's, with SIGTERM handled as a server must: stop
accepting, let running streams finish within the grace period, then cancel them."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import sniffio

__all__ = ["SERVERS", "default_server", "serve_forever", "serving"]

SERVERS = ("hypercorn", "uvicorn")


def default_server() -> str:
    """hypercorn on trio, uvicorn on asyncio (each server's own event loop)."""
    return "hypercorn" if sniffio.current_async_library() == "trio" else "uvicorn"


def _listening(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _hypercorn_config(sock: socket.socket, grace: float) -> Any:
    from hypercorn.config import Config

    config = Config()
    # hypercorn makes its own socket of the descriptor and closes it: it gets a copy.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.graceful_timeout = grace
    config.backlog = 2048  # hypercorn listens again on the socket it is given: its 100 drops bursts
    config.accesslog = None
    config.errorlog = logging.getLogger("tinyagent.serve.hypercorn")
    config.keep_alive_timeout = 75
    return config


class _QuietUvicorn:
    """uvicorn's server without its signal handlers (the caller's loop owns signals)."""

    def __new__(cls, config: Any) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        return Server(config)


def _uvicorn_config(app: Any, grace: float) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=max(1, round(grace)),
        timeout_keep_alive=75,
    )


@contextlib.asynccontextmanager
async def serving(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, server: str | None = None,
    grace: float = 5.0,
) -> AsyncIterator[str]:  # fmt: skip
    """Serve ``app`` in the current event loop for the block; yields its base URL
    (``http://127.0.0.1:PORT``, a free port unless ``port`` says which). Leaving the
    block shuts it down gracefully (streams get ``grace`` seconds)."""
    server = server or default_server()
    sock = _listening(host, port)
    bound = sock.getsockname()
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
    try:
        if server == "hypercorn":
            if sniffio.current_async_library() != "trio":
                from hypercorn.asyncio import serve as hserve
            else:
                from hypercorn.trio import serve as hserve
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: hserve(app, _hypercorn_config(sock, grace), shutdown_trigger=stop.wait)
                )
                try:
                    yield url
                finally:
                    stop.set()
        elif server == "uvicorn":
            if sniffio.current_async_library() != "asyncio":
                raise RuntimeError("uvicorn runs on asyncio: use server='hypercorn' under trio")
            runner = _QuietUvicorn(_uvicorn_config(app, grace))
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: runner.serve(sockets=[sock]))
                try:
                    yield url
                finally:
                    runner.should_exit = True
        else:
            raise ValueError(f"unknown server {server!r} (known: {', '.join(SERVERS)})")
    finally:
        sock.close()


def serve_forever(
    app: Any, *, host: str, port: int, server: str, grace: float,
    ready: Any = None,
) -> None:  # fmt: skip
    """Serve until SIGTERM or SIGINT: stop accepting, give running streams ``grace``
    seconds, then cancel them. Blocks; ``ready(url)`` is called once listening."""
    sock = _listening(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    if server == "hypercorn":
        import trio
        from hypercorn.trio import serve as hserve

        async def main() -> None:
            stop = trio.Event()

            async def on_signal() -> None:
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        stop.set()
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(on_signal)
                await nursery.start(
                    lambda task_status: hserve(
                        app, _hypercorn_config(sock, grace), shutdown_trigger=stop.wait,
                        task_status=task_status,
                    )
                )  # fmt: skip
                if ready is not None:
                    ready(url)
                await stop.wait()
                # hypercorn drains within its graceful_timeout, then returns
                nursery.cancel_scope.deadline = trio.current_time() + grace + 5

        trio.run(main)
    else:
        import asyncio

        import uvicorn

        runner = uvicorn.Server(_uvicorn_config(app, grace))
        # uvicorn raises the signal it stopped for again once it is done, with the
        # handlers it found: these make a clean shutdown exit 0, as hypercorn's does.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)

        async def main_asyncio() -> None:
            if ready is not None:
                # uvicorn listens on the socket given as soon as serve() starts
                asyncio.get_running_loop().call_soon(ready, url)
            await runner.serve(sockets=[sock])

        asyncio.run(main_asyncio())
    sock.close()
