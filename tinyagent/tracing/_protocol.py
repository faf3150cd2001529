"""What a tracer is to the loop: spans started with an explicit parent, ended once.

The loop starts the spans itself, in the code that does the work (the run, each turn,
each model call, each tool call), and names each span's parent explicitly: listeners
cannot do this, as they run in whichever task delivers the events, so they could not
parent a tool's span under its turn while sibling tools run concurrently.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Span", "SpanKind", "Tracer"]

SpanKind = Literal["internal", "client"]


class Span(Protocol):
    def set(self, attributes: Mapping[str, Any]) -> None:
        """Add attributes (None values are left out)."""
        ...

    def end(self, error: str | None = None) -> None:
        """End the span; ``error`` (the error's type) marks it failed."""
        ...

    def activate(self) -> AbstractContextManager[Any]:
        """Make the span current in this task while the block runs (so spans that code
        inside a tool starts nest under the tool's span)."""
        ...


@runtime_checkable
class Tracer(Protocol):
    record_content: bool
    """Whether message content (prompts, replies, tool arguments and results) goes on
    spans. Off unless asked for: content may be private."""

    # Optional, read with getattr: ``turn_spans = True`` asks for a span per turn
    # (``turn N``) between the run's span and its calls'. Without it a call's span sits
    # under the run's and carries its turn as ``tinyagent.turn``.

    def start(
        self,
        name: str,
        attributes: Mapping[str, Any],
        parent: Span | None,
        kind: SpanKind = "internal",
    ) -> Span:
        """Start a span under ``parent`` (None: under whatever span is current)."""
        ...
