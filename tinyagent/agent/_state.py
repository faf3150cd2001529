"""What an ``Agent`` shows and takes: its state snapshot, and prompt input in every form
the seed project accepted (text, text with images, one message, several messages)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..messages import (
    AssistantMessage,
    ImageContent,
    Message,
    Model,
    TextContent,
    ToolResultMessage,
    Usage,
    UserContent,
    UserMessage,
)
from ..tools import Tool

__all__ = ["AgentState", "PromptInput", "ThinkingLevel", "as_message", "as_prompts"]

PromptInput = str | Message | Sequence[UserContent] | Sequence[Message]


class ThinkingLevel(enum.StrEnum):
    """How hard the model should think (``Agent.set_thinking_level``). ``off`` sends no
    reasoning option at all; the others are sent as the reasoning effort, or as a token
    budget where ``Agent.thinking_budgets`` gives one for the level."""

    OFF = "off"
    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"


@attrs.frozen
class AgentState:
    """A snapshot of the agent: the transcript, whether it runs, which tool calls are
    running, the last error, usage over the agent's life, and its settings.

    ``stream_message`` is the reply being streamed, as a partial
    :class:`AssistantMessage`, built when read (never per event); None when no reply is
    streaming."""

    messages: tuple[Message, ...]
    is_streaming: bool
    pending_tool_calls: frozenset[str]
    last_error: str | None
    usage: Usage
    model: Model | None = None
    system_prompt: str = ""
    tools: tuple[Tool, ...] = ()
    thinking_level: ThinkingLevel = ThinkingLevel.OFF
    _partial: Callable[[], AssistantMessage | None] = attrs.field(
        default=lambda: None, repr=False, eq=False, alias="partial"
    )

    @property
    def error(self) -> str | None:
        """The seed's name for :attr:`last_error`."""
        return self.last_error

    @property
    def stream_message(self) -> AssistantMessage | None:
        return self._partial()


_PROMPT = "text, a message, a list of messages, or a list of text and image parts"


def as_message(value: Any) -> Message:
    """One message: text becomes a user message; a message stays as it is; a list of
    text and image parts is one user message. Anything else is refused here, naming
    what it was, before any request (``None``, a number or a dict would otherwise be
    sent as an empty or garbled message)."""
    if isinstance(value, str):
        return UserMessage(value)
    if isinstance(value, UserMessage | AssistantMessage | ToolResultMessage) or hasattr(
        value, "role"
    ):
        return value  # type: ignore[no-any-return]  # a message, or a custom kind with a role
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(f"an empty prompt: a prompt is {_PROMPT}")
        parts: list[Any] = []
        for part in value:
            if isinstance(part, str):
                part = TextContent(part)
            if not isinstance(part, TextContent | ImageContent):
                raise TypeError(
                    "a prompt's parts are text (str or TextContent) and ImageContent, got "
                    f"{type(part).__name__}"
                )
            parts.append(part)
        return UserMessage(parts)
    raise TypeError(f"a prompt is {_PROMPT}, got {type(value).__name__}: {value!r:.80}")


def as_prompts(value: PromptInput, images: Sequence[ImageContent] = ()) -> list[Message]:
    """Prompt input as the messages that start a run.

    A list of messages is several prompts (the seed's ``prompt([msg, msg])``); a list of
    text and image parts is one user message; ``images`` go after the text."""
    if isinstance(value, list | tuple) and value and all(hasattr(v, "role") for v in value):
        if images:
            raise TypeError("images= goes with text, not with a list of messages")
        return list(value)
    if isinstance(value, list | tuple) and any(hasattr(v, "role") for v in value):
        raise TypeError(
            "a prompt is text, a message, a list of messages, or a list of text and image "
            "parts, not a mix of messages and parts"
        )
    if images:
        if not isinstance(value, str):
            raise TypeError("images= goes with a text prompt")
        for image in images:
            if not isinstance(image, ImageContent):
                raise TypeError(f"images= takes ImageContent, got {type(image).__name__}")
        return [UserMessage([TextContent(value), *images])]
    return [as_message(value)]
