"""Connections: the HTTP clients of a run, reused across its model calls."""

from __future__ import annotations

import anyio

from ._network import NetworkConfig
from ._pool import MAX_SHARDS, SHARD_SIZE, ClientPool

__all__ = ["Connections"]


class Connections:
    """Owns the connections of one run (or any scope you give it): every model call
    made with ``session=`` reuses them, and :meth:`aclose` closes them. The agent loop
    opens one per run, so the loop itself never touches a transport library.

    The native transport pools connections in Rust for the whole process, so this
    holds only the httpx clients, created on first use: up to ``max_connections``
    connections (1,024), in clients of a few connections each so that a call costs the
    same at 10 or 1,000 in flight (see ``_pool.py``). (Formerly ``Session``: that
    name now means a transcript store, :class:`tinyagent.sessions.Session`.)
    """

    def __init__(self, *, max_connections: int = SHARD_SIZE * MAX_SHARDS) -> None:
        if (
            not isinstance(max_connections, int)
            or isinstance(max_connections, bool)
            or max_connections < 1
        ):
            raise ValueError(
                f"max_connections must be a whole number >= 1, got {max_connections!r}"
            )
        self.max_connections = max_connections
        """httpx connections open at once (per proxy and CA bundle); calls beyond them
        wait for one, first come first served, as long as their caller lets them."""
        self._httpx: dict[NetworkConfig, ClientPool] = {}

    def httpx_pool(self, network: NetworkConfig) -> ClientPool:
        """The httpx clients for this proxy and CA bundle (usually just one set)."""
        pool = self._httpx.get(network)
        if pool is None:
            size = min(SHARD_SIZE, self.max_connections)
            shards = -(-self.max_connections // size)
            pool = self._httpx[network] = ClientPool(network, size, shards)
        return pool

    async def aclose(self) -> None:
        """Close the connections; shielded, so a cancelled run still closes them."""
        clients = [c for pool in self._httpx.values() for c in pool.clients]
        self._httpx.clear()
        with anyio.CancelScope(shield=True):
            for client in clients:
                with anyio.move_on_after(5):
                    await client.aclose()

    async def __aenter__(self) -> Connections:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
