"""The proxy protocol (``api="proxy"``): model calls relayed by a server that holds the
provider keys, as the seed project's ``stream_proxy`` client and pi-mono's ``proxy.ts``
speak it — both sides.

The client side is a provider like any other (the request, the event parser), so an
agent with local tools runs its model calls through a relay on every transport. The
server side (:func:`read_relay_request`, :class:`RelayEncoder`) is what
``tinyagent.serve`` answers ``POST /api/stream`` with.

A sub-room of ``providers``: it imports ``wire``, ``messages``, ``serde`` and ``_util``;
nothing imports it but the providers' face.
"""

from __future__ import annotations

from ._provider import ProxyProvider
from ._relay import RelayEncoder, RelayRequest, RelayRequestError, read_relay_request

__all__ = [
    "ProxyProvider",
    "RelayEncoder",
    "RelayRequest",
    "RelayRequestError",
    "read_relay_request",
]
