"""How many tokens a transcript takes: what the provider reported where it did, a cheap
estimate for the rest.

A reply's usage says how long the prompt was when it was asked (``input`` plus cache
reads and writes: every message before it) and how long the reply itself is
(``output``), so a transcript's size is the last reported prompt, plus that reply, plus
an estimate of the messages since. The estimate (about four characters a token, a flat
price per image) is cached per message, so sizing a transcript costs what is new.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..messages import (
    AssistantMessage,
    ImageContent,
    Message,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

__all__ = ["TokenEstimator", "estimate_tokens"]

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1_000
MESSAGE_OVERHEAD = 4  # role and framing


def estimate_tokens(message: Message) -> int:
    """A cheap estimate of one message's tokens (about four characters a token)."""
    chars = 0
    images = 0
    parts: Sequence[object]
    if isinstance(message, UserMessage):
        if isinstance(message.content, str):
            return MESSAGE_OVERHEAD + len(message.content) // CHARS_PER_TOKEN
        parts = message.content
    elif isinstance(message, AssistantMessage | ToolResultMessage):
        parts = message.content
    else:  # pragma: no cover - a message kind this estimate does not know
        return MESSAGE_OVERHEAD
    for part in parts:
        if isinstance(part, TextContent | ThinkingContent):
            chars += len(part.text if isinstance(part, TextContent) else part.thinking)
        elif isinstance(part, ToolCall):
            chars += len(part.name) + len(part.raw_arguments or "") + 16
            if part.raw_arguments is None:
                chars += len(repr(part.arguments))
        elif isinstance(part, ImageContent):
            images += 1
    return MESSAGE_OVERHEAD + chars // CHARS_PER_TOKEN + images * IMAGE_TOKENS


class TokenEstimator:
    """Sizes of messages and transcripts, each message estimated once."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[int, tuple[Message, int]] = {}  # id -> (message kept alive, size)

    def of(self, message: Message) -> int:
        """The tokens of ``message``: its reported ``output`` for a reply that has usage,
        else the estimate."""
        hit = self._known.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        size = 0
        if isinstance(message, AssistantMessage) and message.usage.output:
            size = message.usage.output
        if not size:
            size = estimate_tokens(message)
        self._known[id(message)] = (message, size)
        return size

    def sizes(self, messages: Sequence[Message]) -> list[int]:
        return [self.of(m) for m in messages]

    def total(self, messages: Sequence[Message]) -> int:
        """The transcript's tokens: the last reply's reported prompt and output, plus
        estimates for the messages after it; all estimates if no reply reported any."""
        for i in range(len(messages) - 1, -1, -1):
            m = messages[i]
            if isinstance(m, AssistantMessage):
                u = m.usage
                prompt = u.input + u.cache_read + u.cache_write
                if prompt:
                    return prompt + self.of(m) + sum(self.of(x) for x in messages[i + 1 :])
        return sum(self.of(m) for m in messages)

    def forget(self) -> None:
        self._known.clear()
