"""The encoded history of an Anthropic conversation, kept across requests.

A transcript only grows and its records are frozen, so each message is converted and
encoded once. Two things make ``/messages`` less simple than chat completions: messages
of the same role merge (a tool result and the next user text become one user message),
and the newest user messages carry cache breakpoints that move every turn. Roles
alternate once merged, so only the last merged message can still grow, and the marked
ones are among the last ``2 * MESSAGE_BREAKPOINTS``: everything before that tail is
encoded once and kept as bytes; the tail is encoded, with its markers, per request.
The bytes are exactly those of ``dumps(build_body(...)["messages"])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..._util.json import dumps
from ...messages import Message, Model
from .._encoded import EncodedItems, extends
from ._request import MESSAGE_BREAKPOINTS, append_message, mark_messages

__all__ = ["AnthropicWireCache"]

_TAIL = 2 * MESSAGE_BREAKPOINTS


class AnthropicWireCache:
    __slots__ = ("_dropped", "_frozen", "_known", "_merged", "_model")

    def __init__(self) -> None:
        self._reset(None)

    def _reset(self, model: Model | None) -> None:
        self._model = model
        self._known: list[Message] = []
        self._merged: list[dict[str, Any]] = []
        self._dropped: set[str] = set()
        self._frozen = EncodedItems()

    def encode(
        self, messages: Sequence[Message], model: Model, marker: dict[str, Any] | None
    ) -> list[bytes]:
        """The ``messages`` array's items as pieces to join (without the brackets)."""
        known = self._known
        k = len(known)
        # The conversion depends on the model (thinking is replayed only to its signer).
        if model != self._model or not extends(messages, known):
            self._reset(model)
            known = self._known
            k = 0
        # ``_merged`` holds only the messages not yet frozen: what was encoded for good
        # is kept as bytes alone, not as objects every garbage collection would walk.
        merged = self._merged
        for m in messages[k:]:
            append_message(merged, self._dropped, m, model)
            known.append(m)
        ready = len(merged) - _TAIL
        if ready > 0:
            self._frozen.extend([dumps(x) for x in merged[:ready]])
            del merged[:ready]
        # The tail is copied (one level: markers replace a block, never change one).
        tail = [{"role": x["role"], "content": list(x["content"])} for x in merged]
        if marker is not None:
            mark_messages(tail, marker, MESSAGE_BREAKPOINTS)
        pieces = self._frozen.pieces()
        for x in tail:
            if pieces:
                pieces.append(b",")
            pieces.append(dumps(x))
        return pieces
