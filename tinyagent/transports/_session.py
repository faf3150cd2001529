"""A transport session: the connections of a run, reused across its model calls."""

from __future__ import annotations

from typing import Any

import anyio

from ._network import NetworkConfig

__all__ = ["Session"]


class Session:
    """Owns the connections of one run (or any scope you give it): every model call
    made with ``session=`` reuses them, and :meth:`aclose` closes them. The agent loop
    opens one per run, so the loop itself never touches a transport library.

    The native transport pools connections in Rust for the whole process, so a session
    holds only the httpx client, created on first use.
    """

    def __init__(self) -> None:
        self._httpx: dict[NetworkConfig, Any] = {}

    def httpx_client(self, network: NetworkConfig) -> Any:
        """The session's httpx client for this proxy and CA bundle (usually just one)."""
        client = self._httpx.get(network)
        if client is None:
            from ._httpx import new_client

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

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
