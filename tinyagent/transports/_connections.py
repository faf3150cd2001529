"""Connections: the HTTP clients of a run, reused across its model calls."""

from __future__ import annotations

from typing import Any

import anyio

from ._network import NetworkConfig, ssl_context

__all__ = ["Connections", "new_client"]


def new_client(network: NetworkConfig) -> Any:
    """An httpx client that does exactly what ``network`` says (no environment of its
    own: proxies and CAs were decided in :mod:`._network`, for every transport).
    httpx is imported here, on first use: a process on the native transport never
    loads it."""
    import httpx

    return httpx.AsyncClient(
        verify=ssl_context(network.ca_bundle), proxy=network.proxy, trust_env=False
    )


class Connections:
    """Owns the connections of one run (or any scope you give it): every model call
    made with ``session=`` reuses them, and :meth:`aclose` closes them. The agent loop
    opens one per run, so the loop itself never touches a transport library.

    The native transport pools connections in Rust for the whole process, so this
    holds only the httpx clients, created on first use. (Formerly ``Session``: that
    name now means a transcript store, :class:`tinyagent.sessions.Session`.)
    """

    def __init__(self) -> None:
        self._httpx: dict[NetworkConfig, Any] = {}

    def httpx_client(self, network: NetworkConfig) -> Any:
        """The httpx client for this proxy and CA bundle (usually just one)."""
        client = self._httpx.get(network)
        if client is None:
            client = self._httpx[network] = new_client(network)
        return client

    async def aclose(self) -> None:
        """Close the connections; shielded, so a cancelled run still closes them."""
        clients = list(self._httpx.values())
        self._httpx.clear()
        with anyio.CancelScope(shield=True):
            for client in clients:
                with anyio.move_on_after(5):
                    await client.aclose()

    async def __aenter__(self) -> Connections:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
