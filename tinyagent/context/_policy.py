"""Keeping a long conversation inside the model's context window.

A context policy is given the messages about to be sent and returns the ones to send.
The loop consults it before every model call (so it can act before an overflow, from
token estimates) and once more when a call fails with ``context_overflow`` (then it
must send less, and the call is retried once). The transcript itself is never changed:
only what is sent.

The built-in policies drop (or summarise) the oldest turns. They cut only where the
transcript can be cut: before a user message, or before a reply once every earlier tool
call has its result, so a call is never separated from its result; the system prompt is
sent apart and always kept. Once a policy has cut at a point it keeps cutting there or
later, so the sent prefix stays the same from call to call and prompt caches keep
working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from .._util.log import logger
from ..messages import AssistantMessage, Message, Model, ToolResultMessage, UserMessage
from ._estimate import TokenEstimator

__all__ = ["ContextPolicy", "DropOldest", "Summarize", "cut_points"]

ContextPolicy = Callable[
    [list[Message], Model, bool], Sequence[Message] | Awaitable[Sequence[Message]]
]
"""``policy(messages, model, overflowed)`` returns the messages to send."""

DEFAULT_SHARE = 0.75  # of the context window, for messages (the rest: system, tools, reply)
DROPPED_NOTE = "(Earlier messages of this conversation were left out to fit the context window.)"


def cut_points(messages: Sequence[Message]) -> list[int]:
    """Indices where ``messages`` may start: a user message, or a reply once every
    earlier tool call has its result (index 0 is always one)."""
    points = [0]
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        if i and not open_calls and isinstance(m, UserMessage | AssistantMessage):
            points.append(i)
        if isinstance(m, AssistantMessage):
            open_calls = {c.id for c in m.tool_calls}
        elif isinstance(m, ToolResultMessage):
            open_calls.discard(m.tool_call_id)
    return points


class DropOldest:
    """Send the newest messages that fit ``max_tokens`` (default: three quarters of the
    model's ``context_window``; without one, only an overflow makes it act), leaving out
    the oldest turns with a note saying so. On an overflow it sends at most half of what
    overflowed."""

    def __init__(self, max_tokens: int | None = None) -> None:
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1 or None, got {max_tokens!r}")
        self.max_tokens = max_tokens
        self._tokens = TokenEstimator()
        self._start: Message | None = None  # the first message sent, once cut
        self._notes: dict[int, tuple[Message, UserMessage]] = {}  # cut message id -> note

    def budget(self, model: Model) -> int | None:
        if self.max_tokens is not None:
            return self.max_tokens
        if model.context_window:
            return int(model.context_window * DEFAULT_SHARE)
        return None

    async def __call__(
        self, messages: list[Message], model: Model, overflowed: bool
    ) -> Sequence[Message]:
        points = cut_points(messages)
        sizes = self._tokens.sizes(messages)
        first = self._sticky_start(messages, points)
        budget = self.budget(model)
        if overflowed:
            sent = sum(sizes[first:])
            budget = min(budget, sent // 2) if budget is not None else sent // 2
        if budget is None or first == len(messages):
            return self._view(messages, first)
        suffix = sum(sizes[first:])
        later = [p for p in points if p >= first]
        cut = first
        for k, p in enumerate(later):
            if suffix <= budget or k == len(later) - 1:
                cut = p
                break
            suffix -= sum(sizes[p : later[k + 1]])
        if cut > first:
            logger.info(
                "context policy: leaving out %d of %d messages (budget %d tokens)",
                cut,
                len(messages),
                budget,
            )
        return self._view(messages, cut)

    def _sticky_start(self, messages: list[Message], points: list[int]) -> int:
        """Where the last cut was, if that message is still a cut point of this
        transcript (else start again from the beginning: the transcript was replaced)."""
        if self._start is None:
            return 0
        for p in points:
            if messages[p] is self._start:
                return p
        self._start = None
        return 0

    def _view(self, messages: list[Message], cut: int) -> Sequence[Message]:
        if cut == 0:
            self._start = None
            return messages
        self._start = messages[cut]
        return [self._note(messages, cut), *messages[cut:]]

    def _note(self, messages: list[Message], cut: int) -> UserMessage:
        """The note that stands for the messages left out: the same object for the same
        cut, so the provider's encoded-history cache still matches."""
        key = id(messages[cut])
        hit = self._notes.get(key)
        if hit is not None and hit[0] is messages[cut]:
            return hit[1]
        note = UserMessage(self.describe(messages[:cut]))
        self._notes = {key: (messages[cut], note)}
        return note

    def describe(self, dropped: Sequence[Message]) -> str:
        return DROPPED_NOTE


class Summarize(DropOldest):
    """Like :class:`DropOldest`, but the messages left out are replaced by a summary the
    model writes (one extra call per new cut, with ``model`` or the run's). If that call
    fails, the note says the messages were left out, as :class:`DropOldest` does."""

    PROMPT = (
        "Summarise the conversation below for the assistant who will continue it: the "
        "user's goals, decisions made, facts found, tool results that still matter, and "
        "open questions. Be concise; write only the summary."
    )

    def __init__(self, max_tokens: int | None = None, *, model: Model | str | None = None):
        super().__init__(max_tokens)
        self.model = model
        self._pending: list[Message] | None = None

    async def __call__(
        self, messages: list[Message], model: Model, overflowed: bool
    ) -> Sequence[Message]:
        self._summary_model = self.model or model
        view = await super().__call__(messages, model, overflowed)
        if self._pending is not None:
            dropped, self._pending = self._pending, None
            note = view[0]
            assert isinstance(note, UserMessage)
            summary = await self._summarise(dropped)
            if summary:
                new = UserMessage(f"Summary of the earlier conversation:\n{summary}")
                self._notes = {k: (m, new) for k, (m, _) in self._notes.items()}
                view = [new, *view[1:]]
        return view

    def describe(self, dropped: Sequence[Message]) -> str:
        self._pending = list(dropped)  # summarised once the view is built
        return DROPPED_NOTE

    async def _summarise(self, dropped: list[Message]) -> str | None:
        from ..call import complete
        from ..messages import Context

        transcript = "\n".join(f"{m.role}: {_text(m)}" for m in dropped)
        try:
            reply = await complete(
                self._summary_model,
                Context(self.PROMPT, [UserMessage(transcript)]),
            )
        except Exception as exc:  # pragma: no cover - complete() reports failures as data
            logger.info("context policy: the summary failed (%s); leaving messages out", exc)
            return None
        if reply.stop_reason.value == "error" or not reply.text.strip():
            logger.info("context policy: the summary failed (%s)", reply.error_message)
            return None
        return reply.text.strip()


def _text(m: Message) -> str:
    if isinstance(m, AssistantMessage):
        calls = [f"[called {c.name}({c.raw_arguments or c.arguments})]" for c in m.tool_calls]
        return " ".join([m.text, *calls]).strip()
    return m.text
