"""A call's prompt, in tokens, before it is sent: the size a reservation is made for.

It errs high on purpose (a reservation too small could let a cap be passed): three
bytes of UTF-8 a token (tokenizers average nearer four on English, about one a
character on CJK text), every tool's schema and call arguments counted, and an image
as the most any provider charges for one (about 2,500 tokens at the largest size
they take). The real usage settles the reservation, so erring high only holds a
call back a little earlier near the cap.
"""

from __future__ import annotations

from ..messages import (
    Context,
    ImageContent,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
)

__all__ = ["BYTES_PER_TOKEN", "IMAGE_TOKENS", "prompt_tokens"]

BYTES_PER_TOKEN = 3
IMAGE_TOKENS = 2_500
MESSAGE_TOKENS = 8  # the role and framing each message costs
CALL_TOKENS = 16  # a request's own framing


def _size(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: it is sent as U+FFFD (3 bytes)
        return len(text) * 3


def prompt_tokens(context: Context) -> int:
    """The prompt tokens ``context`` may cost, erring high."""
    size = _size(context.system_prompt)
    images = 0
    messages = context.messages
    for tool in context.tools:
        size += _size(tool.name) + _size(tool.description) + _size(str(tool.parameters))
    for m in messages:
        content = m.content
        if isinstance(content, str):
            size += _size(content)
            continue
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
    tokens = -(-size // BYTES_PER_TOKEN) + images * IMAGE_TOKENS
    return tokens + MESSAGE_TOKENS * len(messages) + CALL_TOKENS
