"""A call's prompt, in tokens, before it is sent: the size a reservation is made for.

It errs high on purpose (a reservation too small could let a cap be passed): three
bytes of UTF-8 a token (tokenizers average nearer four on English, about one a
character on CJK text), every tool's schema and call arguments counted, and an image
as the most any provider charges for one (about 2,500 tokens at the largest size
they take). The real usage settles the reservation, so erring high only holds a
call back a little earlier near the cap.

A run sends its transcript again each turn, a few messages longer: :class:`PromptSizes`
keeps each message's estimate by identity (records are frozen), so a turn costs the
new messages, not the whole transcript again.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..messages import (
    Context,
    ImageContent,
    Message,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    ToolSchema,
)

__all__ = ["BYTES_PER_TOKEN", "IMAGE_TOKENS", "PromptSizes", "prompt_tokens"]

BYTES_PER_TOKEN = 3
IMAGE_TOKENS = 2_500
MESSAGE_TOKENS = 8  # the role and framing each message costs
CALL_TOKENS = 16  # a request's own framing


def _size(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: it is sent as U+FFFD (3 bytes)
        return len(text) * 3


def _tokens(size: int) -> int:
    return -(-size // BYTES_PER_TOKEN)


def message_tokens(m: Message) -> int:
    """One message's estimate, its framing included."""
    content = m.content
    if isinstance(content, str):
        return _tokens(_size(content)) + MESSAGE_TOKENS
    size = images = 0
    for part in content:
        if isinstance(part, TextContent):
            size += _size(part.text)
        elif isinstance(part, ImageContent):
            images += 1
        elif isinstance(part, ThinkingContent):
            size += _size(part.thinking) + len(part.signature or "")
        elif isinstance(part, ToolCall):
            size += _size(part.name) + _size(part.raw_arguments or str(part.arguments))
    if isinstance(m, ToolResultMessage):
        size += _size(m.tool_name) + len(m.tool_call_id)
    return _tokens(size) + images * IMAGE_TOKENS + MESSAGE_TOKENS


def tools_tokens(tools: Sequence[ToolSchema]) -> int:
    size = sum(_size(t.name) + _size(t.description) + _size(str(t.parameters)) for t in tools)
    return _tokens(size)


def prompt_tokens(context: Context) -> int:
    """The prompt tokens ``context`` may cost, erring high."""
    return (
        _tokens(_size(context.system_prompt))
        + tools_tokens(context.tools)
        + sum(message_tokens(m) for m in context.messages)
        + CALL_TOKENS
    )


class PromptSizes:
    """:func:`prompt_tokens` for the calls of one run, each message estimated once."""

    __slots__ = ("_messages", "_sums", "_system", "_tools")

    def __init__(self) -> None:
        self._messages: list[Message] = []
        self._sums: list[int] = [0]  # _sums[i]: the first i messages' estimate
        self._tools: tuple[tuple[ToolSchema, ...], int] = ((), 0)
        self._system: tuple[str, int] = ("", 0)

    def __call__(self, context: Context) -> int:
        messages, known, sums = context.messages, self._messages, self._sums
        same = 0
        end = min(len(known), len(messages))
        while same < end and known[same] is messages[same]:
            same += 1
        del known[same:], sums[same + 1 :]
        for m in messages[same:]:
            known.append(m)
            sums.append(sums[-1] + message_tokens(m))
        if self._tools[0] is not context.tools:
            self._tools = (context.tools, tools_tokens(context.tools))
        if self._system[0] is not context.system_prompt:
            self._system = (context.system_prompt, _tokens(_size(context.system_prompt)))
        return self._system[1] + self._tools[1] + sums[-1] + CALL_TOKENS
