"""A small HTTP proxy for tests, on 127.0.0.1: ``CONNECT`` tunnels (HTTPS) and
absolute-form requests (plain HTTP), recording what it was asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import anyio
import anyio.abc

from tinyagent.testing._tcp import serve_tcp


class LocalProxy:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (method, target)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _pipe(self, src: anyio.abc.ByteStream, dst: anyio.abc.ByteStream) -> None:
        try:
            async for data in src:
                await dst.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await dst.aclose()

    async def _serve(self, client: anyio.abc.SocketStream) -> None:
        async with client:
            buf = b""
            try:
                while b"\r\n\r\n" not in buf:
                    buf += await client.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return
            head, _, rest = buf.partition(b"\r\n\r\n")
            method, target, _version = head.split(b"\r\n")[0].decode().split(" ", 2)
            self.seen.append((method, target))
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = await anyio.connect_tcp(host, int(port))
                await client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                u = urlsplit(target)
                upstream = await anyio.connect_tcp(u.hostname or "", u.port or 80)
                await upstream.send(buf)  # absolute-form, forwarded as it came
                rest = b""
            async with upstream, anyio.create_task_group() as tg:
                if rest:
                    await upstream.send(rest)
                tg.start_soon(self._pipe, upstream, client)
                await self._pipe(client, upstream)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LocalProxy]:
        async with serve_tcp(self._serve) as port:
            self.port = port
            yield self
