"""A transport session: the connections of a run, reused across its model calls."""

from __future__ import annotations

from typing import Any

import anyio

__all__ = ["Session"]


class Session:
    """Owns the connections of one run (or any scope you give it): every model call
    made with ``session=`` reuses them, and :meth:`aclose` closes them. The agent loop
    opens one per run, so the loop itself never touches a transport library.

    The native transport pools connections in Rust for the whole process, so a session
    holds only the httpx client, created on first use.
    """

    def __init__(self) -> None:
        self._httpx: Any = None

    def httpx_client(self) -> Any:
        if self._httpx is None:
            import httpx

            from ._httpx import shared_ssl_context

            self._httpx = httpx.AsyncClient(verify=shared_ssl_context())
        return self._httpx

    async def aclose(self) -> None:
        """Close the connections; shielded, so a cancelled run still closes them."""
        client, self._httpx = self._httpx, None
        if client is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await client.aclose()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
