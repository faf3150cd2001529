"""``POST /agui/{agent}``: a served agent over AG-UI.

The body is a ``RunAgentInput`` (read with ``ag-ui-protocol``'s own model); the answer
is AG-UI events, built with its types and written by its encoder: the run (started,
finished or error), a step per turn, text and reasoning messages, tool calls with their
arguments and the server-side tools' results, and the state (the client's, handed
back). The client holds the conversation (AG-UI sends the messages each run), so the
server keeps none.

Tools the client declares are frontend tools: when the model calls one, the run stops
with the call (its start, arguments and end, no result) for the UI to answer; the next
run, whose messages end with the UI's tool result, resumes from there.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from ag_ui import core as ui
from ag_ui.encoder import EventEncoder
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ..agent import Agent
from ..messages import (
    AgentEvent,
    AssistantMessage,
    ImageContent,
    Message,
    MessageEndEvent,
    MessageUpdateEvent,
    TextContent,
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    ToolExecutionEndEvent,
    ToolResultMessage,
    TurnStartEvent,
    UserMessage,
)
from ..tools import Tool, ToolResult
from ..wire import parse_tool_arguments
from ._errors import ApiError
from ._runs import bound, run_agent
from ._state import server_of
from ._stream import EventStream

__all__ = ["agui_run"]

FRONTEND_RESULT = "the client answers this call"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "(body)"
    return f"{where}: {err.get('msg', 'invalid')}"


def _content(value: Any) -> str | list[Any]:
    if isinstance(value, str):
        return value
    parts: list[Any] = []
    for part in value:
        kind = getattr(part, "type", None)
        if kind == "text":
            parts.append(TextContent(part.text))
        elif kind in ("image", "binary"):
            data = getattr(part, "data", None)
            url = getattr(part, "url", None)
            mime = getattr(part, "mime_type", None) or "image/png"
            parts.append(ImageContent(data, mime, url=url) if data else ImageContent(url=url))
    return parts


def _history(messages: list[Any]) -> tuple[str, list[Message]]:
    system: list[str] = []
    out: list[Message] = []
    names: dict[str, str] = {}
    for m in messages:
        role = m.role
        if role in ("system", "developer"):
            system.append(m.content if isinstance(m.content, str) else "")
        elif role == "user":
            out.append(UserMessage(_content(m.content)))
        elif role == "assistant":
            content: list[Any] = [TextContent(m.content)] if m.content else []
            for call in m.tool_calls or ():
                names[call.id] = call.function.name
                content.append(
                    parse_tool_arguments(call.id, call.function.name, call.function.arguments)
                )
            out.append(AssistantMessage(content, "tool_use" if m.tool_calls else "stop"))
        elif role == "tool":
            if m.tool_call_id not in names:
                raise ApiError(400, f"messages: the tool message {m.id!r} answers no earlier call")
            text = m.content if isinstance(m.content, str) else str(m.content)
            out.append(
                ToolResultMessage(
                    m.tool_call_id, names[m.tool_call_id], [TextContent(text)], bool(m.error)
                )
            )
        # reasoning and activity messages: the UI's own, not the model's input
    return "\n\n".join(s for s in system if s), out


def _frontend(tool: Any) -> Tool:
    async def hand_over(call_id: str, args: dict[str, Any], update: Any) -> ToolResult:
        return ToolResult(FRONTEND_RESULT, terminate=True)

    params = tool.parameters if isinstance(tool.parameters, dict) else {"type": "object"}
    return Tool(tool.name, tool.description, params, hand_over)


class _Writer:
    """Agent events in, AG-UI events out (through ``send``)."""

    def __init__(self, send: Callable[[ui.BaseEvent], Awaitable[None]], frontend: set[str]) -> None:
        self._send = send
        self._frontend = frontend
        self._text: str | None = None  # the open text message's id
        self._reasoning: str | None = None
        self._calls: dict[int, str] = {}  # block index -> tool call id, in this reply
        self._reply_id = "msg_" + secrets.token_hex(8)
        self._step = 0

    async def _close_text(self) -> None:
        if self._text is not None:
            await self._send(ui.TextMessageEndEvent(message_id=self._text))
            self._text = None

    async def _close_reasoning(self) -> None:
        if self._reasoning is not None:
            rid = self._reasoning
            await self._send(ui.ReasoningMessageEndEvent(message_id=rid))
            await self._send(ui.ReasoningEndEvent(message_id=rid))
            self._reasoning = None

    async def on_event(self, event: AgentEvent) -> None:
        send = self._send
        if isinstance(event, TurnStartEvent):
            if self._step:
                await send(ui.StepFinishedEvent(step_name=f"turn {self._step}"))
            self._step = event.turn
            self._reply_id = "msg_" + secrets.token_hex(8)
            self._calls = {}
            await send(ui.StepStartedEvent(step_name=f"turn {event.turn}"))
        elif isinstance(event, MessageUpdateEvent):
            inner = event.event
            if isinstance(inner, TextDeltaEvent):
                await self._close_reasoning()
                if self._text is None:
                    self._text = self._reply_id
                    await send(ui.TextMessageStartEvent(message_id=self._text, role="assistant"))
                await send(ui.TextMessageContentEvent(message_id=self._text, delta=inner.delta))
            elif isinstance(inner, ThinkingDeltaEvent):
                await self._close_text()
                if self._reasoning is None:
                    self._reasoning = "rs_" + secrets.token_hex(8)
                    await send(ui.ReasoningStartEvent(message_id=self._reasoning))
                    await send(
                        ui.ReasoningMessageStartEvent(message_id=self._reasoning, role="reasoning")
                    )
                await send(
                    ui.ReasoningMessageContentEvent(message_id=self._reasoning, delta=inner.delta)
                )
            elif isinstance(inner, ToolCallStartEvent):
                await self._close_text()
                await self._close_reasoning()
                self._calls[inner.index] = inner.id
                await send(ui.ToolCallStartEvent(tool_call_id=inner.id, tool_call_name=inner.name,
                                                 parent_message_id=self._reply_id))  # fmt: skip
            elif isinstance(inner, ToolCallDeltaEvent):
                call_id = self._calls.get(inner.index)
                if call_id is not None:
                    await send(ui.ToolCallArgsEvent(tool_call_id=call_id, delta=inner.delta))
            elif isinstance(inner, ToolCallEndEvent):
                await send(ui.ToolCallEndEvent(tool_call_id=inner.tool_call.id))
        elif isinstance(event, MessageEndEvent) and isinstance(event.message, AssistantMessage):
            await self._close_text()
            await self._close_reasoning()
        elif isinstance(event, ToolExecutionEndEvent) and event.call.name not in self._frontend:
            await send(ui.ToolCallResultEvent(message_id="tr_" + secrets.token_hex(8),
                                              tool_call_id=event.call.id, content=event.result.text,
                                              role="tool"))  # fmt: skip

    async def finish(self) -> None:
        await self._close_text()
        await self._close_reasoning()
        if self._step:
            await self._send(ui.StepFinishedEvent(step_name=f"turn {self._step}"))


async def agui_run(request: Request) -> Response:
    server = server_of(request)
    token = server.authorize(request)
    name = request.path_params["agent"]
    server.check_agent(token, name)
    body = await server.read_json(request)
    try:
        run_input = ui.RunAgentInput.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, _first_error(exc)) from None
    agent: Agent = server.agents.make(name)
    system, history = _history(list(run_input.messages))
    own = {t.name for t in agent.tools}
    clash = [t.name for t in run_input.tools or () if t.name in own]
    if clash:
        raise ApiError(400, f"tools: {clash[0]!r} is a tool of the agent itself; name yours apart")
    frontend = [_frontend(t) for t in run_input.tools or ()]
    if frontend:
        agent.set_tools([*agent.tools, *frontend])
    context = [f"{c.description}: {c.value}" for c in run_input.context or ()]
    extra = "\n\n".join(s for s in (system, *context) if s)
    if extra:
        agent.set_system_prompt(
            f"{agent.system_prompt}\n\n{extra}" if agent.system_prompt else extra
        )
    bound(agent, server.limits.run_deadline)
    prompts: list[Message] = []
    while history and isinstance(history[-1], UserMessage):
        prompts.insert(0, history.pop())
    if not prompts and not (history and isinstance(history[-1], ToolResultMessage)):
        raise ApiError(
            400, "messages: the last message must be the user's, or a tool result to resume from"
        )
    agent.replace_messages(history)
    release = server.gate.take(server.caller(request, token))
    encoder = EventEncoder()
    thread_id, run_id = run_input.thread_id, run_input.run_id
    names = {t.name for t in frontend}

    async def produce(emit: Callable[[bytes], Awaitable[None]]) -> None:
        async def send(event: ui.BaseEvent) -> None:
            await emit(encoder.encode(event).encode())

        await send(ui.RunStartedEvent(thread_id=thread_id, run_id=run_id))
        if run_input.state is not None:
            await send(ui.StateSnapshotEvent(snapshot=run_input.state))
        writer = _Writer(send, names)
        outcome = await run_agent(agent, prompts, writer.on_event, server.scrub)
        await writer.finish()
        if outcome.failed:
            await send(
                ui.RunErrorEvent(message=outcome.error or "the run failed", code=outcome.end.value)
            )
        else:
            # calls left for the UI: the frontend tools' of the last reply
            last = outcome.replies[-1] if outcome.replies else None
            pending = [c.id for c in last.tool_calls if c.name in names] if last else []
            u = outcome.usage
            usage = ui.TokenUsage(input_tokens=u.input + u.cache_read + u.cache_write,
                                  output_tokens=u.output, total_tokens=u.total,
                                  reasoning_tokens=u.reasoning, cached_input_tokens=u.cache_read,
                                  cache_write_input_tokens=u.cache_write)  # fmt: skip
            outcome_record = ui.RunFinishedSuccessOutcome(pending_tool_call_ids=pending or None)
            await send(ui.RunFinishedEvent(thread_id=thread_id, run_id=run_id,
                                           outcome=outcome_record, usage=[usage]))  # fmt: skip

    def failed(message: str) -> bytes:
        return encoder.encode(ui.RunErrorEvent(message=message, code="server_error")).encode()

    return EventStream(
        produce, media_type=encoder.get_content_type(), release=release, failed=failed
    )
