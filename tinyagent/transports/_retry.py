"""Retries, decided once for every transport.

A transport makes one attempt and reports how it failed as data (the failed message's
typed :class:`Failure`). :class:`RetryingSource` reads that verdict and, when the
attempt failed before any content arrived and the failure is worth another try (a
connection failure, 408/409/429/5xx, an ``overloaded`` error event at the start of a
stream), waits — honouring ``Retry-After`` — and makes a fresh attempt. Nothing a
consumer has seen is ever repeated: a start event is sent once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

import anyio
import attrs

from .._util import wording as words
from .._util.log import logger
from ..messages import (
    AssistantMessage,
    DoneEvent,
    ErrorEvent,
    Failure,
    FailureKind,
    StartEvent,
    StopReason,
    StreamEvent,
    TinyAgentError,
)
from ._gate import RateGate

__all__ = ["EventSource", "ReadingFailed", "RetryingSource", "backoff", "retry_delay"]

# Answers worth another try (before any event was produced), on every transport.
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

_RETRY_KINDS = frozenset({FailureKind.OVERLOADED, FailureKind.RATE_LIMIT, FailureKind.SERVER})
# Failures before the server answered anything: the request was not taken up (a stale
# keep-alive connection the server had closed), so another attempt is safe.
_RETRY_CODES = frozenset({"connect", "connect_timeout", "no_response"})
# Rate-limit answers that waiting does not cure: an exhausted quota needs billing.
_NEVER_RETRY_CODES = frozenset({"insufficient_quota"})
MAX_RETRY_AFTER = 60.0


class EventSource(Protocol):
    """A transport plus parser: batches of stream events for one request."""

    @property
    def message(self) -> AssistantMessage | None: ...
    async def next_batch(self) -> list[StreamEvent]: ...
    def abort(
        self, message: str, stop_reason: StopReason, error: BaseException | None = None
    ) -> list[StreamEvent]: ...
    async def aclose(self) -> None: ...


class ReadingFailed(TinyAgentError):
    """An exception no rule foresaw while reading a reply (the failed message's
    ``ErrorEvent.error``; its cause is the exception)."""

    failure = Failure(FailureKind.UNKNOWN, code="internal_error")


def backoff(attempt: int) -> float:
    return min(0.5 * 2.0**attempt, 8.0) * (0.75 + random.random() / 2)


def retry_delay(failure: Failure | None, attempt: int, max_retries: int) -> float | None:
    """Seconds to wait before another attempt, or None when this failure is final."""
    if failure is None or attempt >= max_retries or failure.code in _NEVER_RETRY_CODES:
        return None
    if failure.status is not None:
        retryable = failure.status in RETRY_STATUS
    else:
        retryable = failure.kind in _RETRY_KINDS or failure.code in _RETRY_CODES
    if not retryable:
        return None
    if failure.retry_after is not None:
        return min(failure.retry_after, MAX_RETRY_AFTER)
    return backoff(attempt)


def _content_free(batch: list[StreamEvent]) -> bool:
    return all(isinstance(e, StartEvent | ErrorEvent) for e in batch)


class RetryingSource:
    """Runs attempts made by ``open_attempt`` until one succeeds, produces content, or
    fails for good (see the module docstring)."""

    def __init__(
        self,
        open_attempt: Callable[[], EventSource],
        max_retries: int,
        label: str = "",
        gate: RateGate | None = None,
        tokens: int = 0,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self._open = open_attempt
        # The request's secrets out of a failure's words: a key a provider echoed in an
        # error event must not reach a message, a log line or a saved transcript (HTTP
        # error bodies are redacted as they are read).
        self._redact = redact
        self._final: AssistantMessage | None = None
        self._gate = gate
        self._tokens = tokens  # the estimate the gate is told, per attempt
        self._holding = False  # an attempt has passed the gate and not yet reported
        self._label = label  # what the request is, for the log
        self._max = max_retries
        self._source = open_attempt()
        self._attempt = 0
        self._content = False
        self._start_sent = False

    @property
    def message(self) -> AssistantMessage | None:
        return self._final if self._final is not None else self._source.message

    def _clean(self, batch: list[StreamEvent]) -> None:
        """Redact the final error event of ``batch`` (and its message) in place."""
        end = batch[-1]
        assert isinstance(end, ErrorEvent)
        assert self._redact is not None
        message = end.message
        text = message.error_message
        clean = self._redact(text) if text is not None else None
        if clean == text:
            return
        self._final = attrs.evolve(message, error_message=clean)
        error = end.error
        if error is not None:
            for name in ("message", "body"):
                value = getattr(error, name, None)
                if isinstance(value, str):
                    setattr(error, name, self._redact(value))
            error.args = tuple(self._redact(a) if isinstance(a, str) else a for a in error.args)
        batch[-1] = ErrorEvent(self._final, error)

    async def next_batch(self) -> list[StreamEvent]:
        try:
            return await self._next_batch()
        except Exception as exc:
            # One rule for any exception while reading a reply (a parser's bug, a
            # provider's hook, something unforeseen): the reply ends as an error that
            # names it, keeping what arrived; it never escapes prompt() or complete().
            err = ReadingFailed(words.reading_failed(exc))
            err.__cause__ = exc
            logger.warning("%s: %s", self._label, err, exc_info=exc)
            return self._source.abort(str(err), StopReason.ERROR, err)

    async def _next_batch(self) -> list[StreamEvent]:
        if self._content:
            # Past the first content nothing is retried: batches pass straight through
            # (no per-event work here, whatever the reply's length).
            batch = await self._source.next_batch()
            if batch and isinstance(batch[-1], ErrorEvent | DoneEvent):
                if self._redact is not None and isinstance(batch[-1], ErrorEvent):
                    self._clean(batch)
                if self._holding:
                    self._report(batch[-1].message)
            return batch
        while True:
            if self._gate is not None and not self._holding:
                await self._gate.acquire(self._tokens)
                self._holding = True
            batch = await self._source.next_batch()
            if self._redact is not None and batch and isinstance(batch[-1], ErrorEvent):
                self._clean(batch)
            final = batch[-1] if batch else None
            if self._holding and isinstance(final, ErrorEvent | DoneEvent):
                self._report(final.message)
            if not self._content and isinstance(final, ErrorEvent) and _content_free(batch):
                failure = final.message.failure
                delay = retry_delay(failure, self._attempt, self._max)
                if delay is not None:
                    assert failure is not None
                    logger.info(
                        "retry %d of %d in %.2f s%s after %s (%s): %s",
                        self._attempt + 1,
                        self._max,
                        delay,
                        " (Retry-After)" if failure.retry_after is not None else "",
                        failure.kind,
                        failure.status if failure.status is not None else failure.code,
                        final.message.error_message,
                        extra={"request": self._label},
                    )
                    await self._source.aclose()
                    # The next attempt exists (unstarted) before the wait, so an abort
                    # during the wait ends an empty message, not the failed one.
                    self._source = self._open()
                    self._final = None  # that attempt's failure is not this one's
                    self._attempt += 1
                    out = self._once([e for e in batch if isinstance(e, StartEvent)])
                    await anyio.sleep(delay)
                    if out:
                        return out
                    continue
            out = self._once(batch)
            if out and not (len(out) == 1 and isinstance(out[0], StartEvent)):
                self._content = True  # a start event, if any, leads its batch
            return out

    def _report(self, message: AssistantMessage | None) -> None:
        """Tell the gate how the attempt it let through ended."""
        self._holding = False
        assert self._gate is not None
        if message is None:
            self._gate.release(self._tokens, None, None)
        elif message.stop_reason is StopReason.ERROR:
            self._gate.release(self._tokens, None, message.failure)
        else:
            self._gate.release(self._tokens, message.usage, None)

    def _once(self, batch: list[StreamEvent]) -> list[StreamEvent]:
        if not self._start_sent:
            if any(isinstance(e, StartEvent) for e in batch):
                self._start_sent = True
            return batch
        return [e for e in batch if not isinstance(e, StartEvent)]

    def abort(
        self, message: str, stop_reason: StopReason, error: BaseException | None = None
    ) -> list[StreamEvent]:
        return self._source.abort(message, stop_reason, error)

    async def aclose(self) -> None:
        if self._holding:
            self._report(self._source.message)
        await self._source.aclose()
