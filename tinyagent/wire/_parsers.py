"""The contract between providers and transports: what a parser is.

A provider makes a payload parser (SSE ``data`` in, events out); a transport drives a
byte parser (body bytes in, events out): the pure one wraps the payload parser, the
native one is Rust. Both live here, below the providers and the transports, so that
neither has to import the other to agree on them.
"""

from __future__ import annotations

from typing import Protocol

from ..messages import AssistantMessage, Failure, StopReason, StreamEvent

__all__ = ["ByteParser", "PayloadParser", "StopVerdict"]

StopVerdict = tuple[StopReason, str | None, Failure | None]
"""A provider's reading of its stop reason: ours, an error message, a typed failure."""


class PayloadParser(Protocol):
    """Sans-IO: SSE ``data`` payloads in, stream events out."""

    @property
    def message(self) -> AssistantMessage | None: ...
    def feed_data(self, payloads: list[bytes]) -> list[StreamEvent]: ...
    def end_of_stream(self) -> list[StreamEvent]: ...
    def fail(
        self, message: str, *, stop_reason: StopReason = ..., error: BaseException | None = ...
    ) -> list[StreamEvent]: ...


class ByteParser(Protocol):
    """What a transport needs of a parser: body bytes in, stream events out (the pure
    Python parser or the native one, for any provider)."""

    @property
    def message(self) -> AssistantMessage | None: ...
    def feed(self, chunk: bytes) -> list[StreamEvent]: ...
    def end_of_stream(self) -> list[StreamEvent]: ...
    def fail(
        self, message: str, *, stop_reason: StopReason = ..., error: BaseException | None = ...
    ) -> list[StreamEvent]: ...
