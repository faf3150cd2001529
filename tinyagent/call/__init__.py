"""One model call: :func:`stream` and :func:`complete`, and the :class:`ModelCaller` a
run owns for its connections and request caches.

Imports ``transports`` (which moves the bytes), ``wire``, ``catalogue`` and
``messages``; the agent calls models only through here.
"""

from __future__ import annotations

from ._caller import ModelCaller, check_call_options
from ._stream import AssistantMessageStream, complete, complete_with, stream

__all__ = [
    "AssistantMessageStream",
    "ModelCaller",
    "check_call_options",
    "complete",
    "complete_with",
    "stream",
]
