"""Encoded JSON array items, kept across requests as a few large chunks.

A request body of a long conversation is mostly history that was sent before. Joining
it anew from the old body and the new items costs a copy per join, and each large
allocation costs page faults: a body built with four intermediate copies costs about a
millisecond at 5,000 messages. Here the old items stay as they are (new ones are
appended as one chunk; every so often the chunks are merged, amortised), and the body
is joined once, from pieces, by whoever builds it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

__all__ = ["EncodedItems", "extends"]

_MAX_CHUNKS = 32


def extends(messages: Sequence[object], known: Sequence[object]) -> bool:
    """Whether ``messages`` begins with exactly the ``known`` objects (by identity: the
    records are frozen, so the encoding of the ones sent before still holds). A C-speed
    scan, no copy: ``map`` stops at the end of ``known``."""
    return len(messages) >= len(known) and all(map(operator.is_, known, messages))


class EncodedItems:
    __slots__ = ("_chunks",)

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def clear(self) -> None:
        self._chunks.clear()

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def extend(self, items: list[bytes]) -> None:
        """Append encoded items (each one JSON value)."""
        if items:
            self._chunks.append(b",".join(items))
            if len(self._chunks) > _MAX_CHUNKS:
                self._chunks = [b",".join(self._chunks)]

    def pieces(self) -> list[bytes]:
        """The items as pieces to join with ``b""`` (commas included between them)."""
        chunks = self._chunks
        if len(chunks) <= 1:
            return list(chunks)
        out = [chunks[0]]
        for c in chunks[1:]:
            out += (b",", c)
        return out
