"""The model calls of one run: a :class:`ModelCaller` owns what they share.

A run makes many calls: they reuse its connections (closed when the run ends, however
it ends) and its encoded history (a message is encoded once, not once per turn), and
they all start from the run's options. The run asks for a reply; what a transport is,
it never learns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..messages import Context, Model
from ..transports import Connections, resolve_transport
from ..wire import RequestCaches, StreamOptions, stream_options
from ._stream import AssistantMessageStream

__all__ = ["ModelCaller", "check_call_options"]


def check_call_options(options: Mapping[str, Any]) -> StreamOptions:
    """The options as every call of a run will take them, checked now (an unknown name,
    a bad value or an unknown transport fail here, not at the first call)."""
    checked = stream_options(options)
    resolve_transport(checked.transport, checked.client)
    return checked


class ModelCaller:
    """Streams a run's model calls over its own connections and request caches.

    ``caches`` may outlive the run (an ``Agent`` keeps one across prompts, so a prompt
    encodes only what is new); the connections do not: :meth:`aclose` closes them.
    """

    __slots__ = ("_base", "_caches", "_connections")

    def __init__(self, options: Mapping[str, Any], caches: RequestCaches | None = None) -> None:
        self._connections = Connections()
        self._caches = caches if caches is not None else RequestCaches()
        base = dict(options)
        base.setdefault("session", self._connections)
        base["wire_cache"] = self._caches
        self._base = base

    def options(self, *, reasoning_effort: str | None, api_key: str | None) -> dict[str, Any]:
        """The options of the next call: the run's, with this turn's effort and key."""
        options = dict(self._base)
        if reasoning_effort is not None:
            options["reasoning_effort"] = reasoning_effort
        if api_key is not None:
            options["api_key"] = api_key
        return options

    def stream(
        self, model: Model, context: Context, options: Mapping[str, Any]
    ) -> AssistantMessageStream:
        """One call, with options from :meth:`options`."""
        return AssistantMessageStream(model, context, stream_options(options))

    async def aclose(self) -> None:
        """Close the run's connections (shielded: a cancelled run still closes them)."""
        await self._connections.aclose()
