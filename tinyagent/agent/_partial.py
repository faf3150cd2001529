"""The reply being streamed, as a partial message, for UIs that redraw it
(``agent.state.stream_message``). Each event only appends its fragment to a list, the
same constant cost at any length; the message is built when someone asks for it."""

from __future__ import annotations

from typing import Any

from ..messages import (
    AssistantMessage,
    Model,
    StopReason,
    StreamEvent,
    TextContent,
    TextDeltaEvent,
    TextEndEvent,
    ThinkingContent,
    ThinkingDeltaEvent,
    ThinkingEndEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

__all__ = ["PartialReply"]


class PartialReply:
    __slots__ = ("_blocks", "_last", "_last_parts", "_model")

    def __init__(self, model: Model) -> None:
        self._model = model
        # index -> [kind, parts, final content or None, call id, call name]
        self._blocks: dict[int, list[Any]] = {}
        self._last = -1  # the index of the last delta's block, and its parts
        self._last_parts: list[str] = []

    def feed(self, ev: StreamEvent) -> None:
        kind = type(ev)
        if kind is TextDeltaEvent or kind is ThinkingDeltaEvent or kind is ToolCallDeltaEvent:
            index = ev.index  # type: ignore[union-attr]
            if index == self._last:  # the usual case: the same block again
                self._last_parts.append(ev.delta)  # type: ignore[union-attr]
                return
            block = self._blocks.get(index)
            if block is None:
                block = self._blocks[index] = [kind, [], None, "", ""]
            block[1].append(ev.delta)  # type: ignore[union-attr]
            self._last, self._last_parts = index, block[1]
        elif kind is ToolCallStartEvent:
            self._blocks[ev.index] = [ToolCallDeltaEvent, [], None, ev.id, ev.name]  # type: ignore[union-attr]
        elif kind is TextEndEvent or kind is ThinkingEndEvent or kind is ToolCallEndEvent:
            block = self._blocks.setdefault(ev.index, [kind, [], None, "", ""])  # type: ignore[union-attr]
            block[2] = ev.content if kind is not ToolCallEndEvent else ev.tool_call  # type: ignore[union-attr]

    def message(self) -> AssistantMessage:
        """The reply so far: ended blocks as they ended, open ones as their text so far
        (a tool call's partial argument text kept raw). Its ``stop_reason`` says nothing
        until the reply's ``message_end``."""
        content: list[Any] = []
        for index in sorted(self._blocks):
            kind, parts, final, call_id, name = self._blocks[index]
            if final is not None:
                content.append(final)
            elif kind is TextDeltaEvent:
                content.append(TextContent("".join(parts)))
            elif kind is ThinkingDeltaEvent:
                content.append(ThinkingContent("".join(parts)))
            else:
                text = "".join(parts)
                content.append(
                    ToolCall(
                        call_id, name, {}, raw_arguments=text, arguments_error="still streaming"
                    )
                )
        m = self._model
        return AssistantMessage(
            tuple(content), StopReason.STOP, model=m.id, provider=m.provider_name, api=m.api
        )
