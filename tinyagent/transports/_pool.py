"""httpx clients for one proxy and CA bundle, sharded so that width costs nothing.

httpcore walks every connection and every queued request of its pool on each request
and each release, so one client with many calls in flight costs CPU per call in
proportion to the width (3.6 ms a call at 100 in flight, 10 ms at 300), and calls
queued for its connections fail after the pool timeout. Here each client (a shard)
holds at most ``SHARD_SIZE`` connections and is never handed more calls than that: a
call takes a slot first, on the shard used last that has room (so calls gather on few
shards, whose connections stay warm), and shards are added as the width grows, up to
``MAX_SHARDS``. Past that, calls wait in a FIFO for a slot — as long as
the caller lets them (its cancel scope or deadline), never failed for waiting.
"""

from __future__ import annotations

from typing import Any

import anyio

from ._network import NetworkConfig, ssl_context

__all__ = ["MAX_SHARDS", "SHARD_SIZE", "ClientPool", "Slot"]

SHARD_SIZE = 8  # connections per client: httpcore's walk stays short
MAX_SHARDS = 128  # 1,024 connections at most per proxy and CA bundle


class _Shard:
    """An httpx client that does exactly what ``network`` says (no environment of its
    own: proxies and CAs were decided in :mod:`._network`, for every transport), keeping
    up to ``connections`` alive, over a transport of its own (:attr:`Slot.transport`).
    httpx is imported here, on first use: a process on the native transport never loads
    it."""

    __slots__ = ("busy", "client", "headers", "transport")

    def __init__(self, network: NetworkConfig, connections: int) -> None:
        import httpx

        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        verify = ssl_context(network.ca_bundle)
        self.transport = httpx.AsyncHTTPTransport(
            verify=verify, proxy=network.proxy, trust_env=False, limits=limits
        )
        self.client = httpx.AsyncClient(transport=self.transport, trust_env=False)
        self.headers = dict(self.client.headers.items())  # what the client would add
        self.busy = 0


class Slot:
    """One call's hold on a connection of a shard; :meth:`release` exactly once.

    ``transport`` is the shard's httpx transport: a call on a session's own clients
    sends through it directly, with the client's default ``headers`` (the client adds
    nothing else those calls use: no auth, no redirects, no cookies, no hooks)."""

    __slots__ = ("_pool", "_shard", "client", "headers", "transport")

    def __init__(self, pool: ClientPool, shard: _Shard) -> None:
        self._pool: ClientPool | None = pool
        self._shard = shard
        self.client = shard.client
        self.transport = shard.transport
        self.headers: dict[str, str] = shard.headers

    def release(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool._give_back(self._shard)


class ClientPool:
    """The shards of one network configuration (see the module docstring)."""

    def __init__(
        self, network: NetworkConfig, shard_size: int = SHARD_SIZE, max_shards: int = MAX_SHARDS
    ) -> None:
        self._network = network
        self._shard_size = shard_size
        self._shards: list[_Shard] = []
        # Shards with a free slot, the one used last on top: a shard is found in O(1).
        self._spare: list[_Shard] = []
        self._free = anyio.Semaphore(shard_size * max_shards)  # FIFO: first come, first served

    @property
    def clients(self) -> list[Any]:
        return [s.client for s in self._shards]

    async def checkout(self) -> Slot:
        """A slot on a shard with room (a new shard if none has), waiting for one while
        every shard is full."""
        try:
            self._free.acquire_nowait()  # no scheduling point when a slot is free
        except anyio.WouldBlock:
            await self._free.acquire()
        if not self._spare:
            # The semaphore counts every shard's slots, so no spare shard means room
            # for a new one.
            try:
                shard = _Shard(self._network, self._shard_size)
            except BaseException:
                self._free.release()
                raise
            self._shards.append(shard)
            self._spare.append(shard)
        shard = self._spare[-1]
        shard.busy += 1
        if shard.busy >= self._shard_size:
            self._spare.pop()
        return Slot(self, shard)

    def _give_back(self, shard: _Shard) -> None:
        if shard.busy == self._shard_size:
            self._spare.append(shard)
        shard.busy -= 1
        self._free.release()
