"""``POST /v1/responses``: a served agent behind OpenAI's Responses API.

``model`` names the agent; ``input`` is the prompt (text, or message items);
``instructions`` add to the agent's system prompt. A stored response (``store``, the
default) is a conversation in the server's session store, continued by
``previous_response_id``: continuing from an earlier response than the latest forks the
conversation there. The agent's tools run on the server; each reply of the run is an
output item (its reasoning a ``reasoning`` item, its text a ``message``), streamed with
the API's events and numbered as the API numbers them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._util.json import dumps
from ..messages import (
    AgentEvent,
    AssistantMessage,
    Message,
    MessageEndEvent,
    MessageUpdateEvent,
    TextContent,
    TextDeltaEvent,
    ThinkingDeltaEvent,
    UserMessage,
)
from ..sessions import SessionInUseError
from ._errors import ApiError
from ._openai_wire import (
    agent_request,
    bad,
    failure_status,
    optional_str,
    split_prompt,
    usage_counts,
    user_parts,
)
from ._runs import RunOutcome, bound, run_agent, run_whole
from ._state import server_of
from ._stream import EventStream

__all__ = ["responses"]


def _items(value: Any) -> list[Message]:
    if isinstance(value, str):
        return [UserMessage(value)]
    if not isinstance(value, list) or not value:
        raise bad("input", "must be a string or a non-empty list of message items")
    out: list[Message] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad(where, "must be an object")
        kind = item.get("type", "message")
        if kind != "message":
            raise bad(f"{where}.type", f"{kind!r} items are not accepted: send message items")
        role = item.get("role")
        if role == "user":
            out.append(UserMessage(user_parts(item.get("content"), f"{where}.content")))
        elif role == "assistant":
            parts = user_parts(item.get("content"), f"{where}.content")
            text = (
                parts if isinstance(parts, str) else "".join(getattr(p, "text", "") for p in parts)
            )
            out.append(AssistantMessage([TextContent(text)], "stop"))
        else:
            raise bad(f"{where}.role", f"unknown role {role!r} here (user, assistant; "
                      "use instructions for the system's words)")  # fmt: skip
    return out


def response_id(conversation: str, start: int) -> str:
    return f"resp_{conversation}_{start}"


def read_response_id(value: str) -> tuple[str, int]:
    head, _, start = value.removeprefix("resp_").rpartition("_")
    if not value.startswith("resp_") or not head or not start.isdigit():
        raise ApiError(404, f"no response {value!r} is stored here", param="previous_response_id",
                       code="not_found")  # fmt: skip
    return head, int(start)


def run_end(stored: list[Message], start: int) -> int:
    """Where the run that began at ``start`` ended: after its prompt, at the next user
    turn (a served run has no user turns of its own past its prompt)."""
    i = start
    while i < len(stored) and isinstance(stored[i], UserMessage):
        i += 1
    while i < len(stored) and not isinstance(stored[i], UserMessage):
        i += 1
    return i


class _Output:
    """The output items of a response as its events come: each reply's reasoning and
    text an item, opened at its first delta and closed when the reply ends."""

    def __init__(self, send: Callable[[str, dict[str, Any]], Awaitable[None]] | None) -> None:
        self.items: list[dict[str, Any]] = []
        self._send = send
        self._open: dict[str, Any] | None = None
        self._parts: list[str] = []

    async def _event(self, kind: str, fields: dict[str, Any]) -> None:
        if self._send is not None:
            await self._send(kind, fields)

    async def delta(self, kind: str, text: str) -> None:
        item = self._open
        if item is None or item["type"] != kind:
            await self.close()
            item = await self._start(kind)
        self._parts.append(text)
        index = len(self.items) - 1
        event = (
            "response.output_text.delta" if kind == "message" else "response.reasoning_text.delta"
        )
        fields = {"item_id": item["id"], "output_index": index, "content_index": 0, "delta": text}
        if kind == "message":
            fields["logprobs"] = []
        await self._event(event, fields)

    async def _start(self, kind: str) -> dict[str, Any]:
        prefix = "msg_" if kind == "message" else "rs_"
        item: dict[str, Any] = {"id": prefix + secrets.token_hex(12), "type": kind}
        if kind == "message":
            item.update(role="assistant", status="in_progress", content=[])
        else:
            item.update(summary=[], content=[])
        self.items.append(item)
        self._open = item
        self._parts = []
        index = len(self.items) - 1
        await self._event("response.output_item.added", {"output_index": index, "item": item})
        if kind == "message":
            part = {"type": "output_text", "text": "", "annotations": []}
            await self._event("response.content_part.added", {"item_id": item["id"],
                              "output_index": index, "content_index": 0, "part": part})  # fmt: skip
        return dict(item)

    async def close(self) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        text = "".join(self._parts)
        index = len(self.items) - 1
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        if item["type"] == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            await self._event("response.output_text.done", {**where, "text": text, "logprobs": []})
            await self._event("response.content_part.done", {**where, "part": part})
            item.update(status="completed", content=[part])
        else:
            await self._event("response.reasoning_text.done", {**where, "text": text})
            item["content"] = [{"type": "reasoning_text", "text": text}]
        await self._event("response.output_item.done", {"output_index": index, "item": item})

    async def on_event(self, event: AgentEvent) -> None:
        if isinstance(event, MessageUpdateEvent):
            inner = event.event
            if isinstance(inner, TextDeltaEvent):
                await self.delta("message", inner.delta)
            elif isinstance(inner, ThinkingDeltaEvent):
                await self.delta("reasoning", inner.delta)
        elif isinstance(event, MessageEndEvent) and isinstance(event.message, AssistantMessage):
            await self.close()


def _usage(outcome: RunOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    prompt, completion, cached, reasoning = usage_counts(outcome)
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }


async def responses(request: Request) -> Response:
    server = server_of(request)
    token = server.authorize(request)
    body = await server.read_json(request)
    name, options = agent_request(body, ("max_output_tokens",))
    text_format = body.get("text")
    if text_format is not None and (
        not isinstance(text_format, dict)
        or (text_format.get("format") or {"type": "text"}).get("type") != "text"
    ):
        raise bad("text", "only the plain text format is served (the agent sets its own)")
    instructions = optional_str(body, "instructions")
    previous = optional_str(body, "previous_response_id")
    store = body.get("store", True)
    if not isinstance(store, bool):
        raise bad("store", "must be true or false")
    given = _items(body.get("input"))
    before, prompt = split_prompt(given)
    streamed = body.get("stream") is True

    server.check_agent(token, name)
    agent = server.agents.make(name)
    if instructions:
        agent.set_system_prompt(
            f"{agent.system_prompt}\n\n{instructions}" if agent.system_prompt else instructions
        )
    if options:
        agent.set_stream_options(**options)
    bound(agent, server.limits.run_deadline)

    give_back = server.gate.take(server.caller(request, token))
    session = None

    def release() -> None:
        give_back()
        if session is not None:
            server.conversations.close(session)

    try:
        history: list[Message] = []
        conversation = server.conversations.new_id()
        if previous is not None:
            conv, start = read_response_id(previous)
            earlier = server.conversations.session(conv)
            try:
                stored = await earlier.load()
            finally:
                server.conversations.close(earlier)
            if start >= len(stored):
                raise ApiError(404, f"no response {previous!r} is stored here",
                               param="previous_response_id", code="not_found")  # fmt: skip
            end = run_end(stored, start)
            history = stored[:end]
            if store and end == len(stored):
                conversation = conv  # the latest response: the conversation goes on
        if store:
            session = server.conversations.session(conversation)
            continued = previous is not None and conversation == read_response_id(previous)[0]
            if history and not continued:
                await session.append(history)
            agent.set_session(session)
            for m in before:
                agent.append_message(m)
            await agent.sync_session()
            start = len(agent.messages)
        else:
            agent.replace_messages([*history, *before])
            start = len(history) + len(before)
    except BaseException:
        release()
        raise
    rid = response_id(conversation, start) if store else "resp_" + secrets.token_hex(16)
    created = int(time.time())

    def envelope(
        status: str, output: list[dict[str, Any]], outcome: RunOutcome | None
    ) -> dict[str, Any]:
        error = None
        incomplete = None
        if outcome is not None and outcome.failed:
            err = failure_status(outcome)
            error = {"code": "server_error", "message": err.message}
        elif outcome is not None and outcome.truncated:
            incomplete = {"reason": "max_output_tokens"}
        return {
            "id": rid,
            "object": "response",
            "created_at": created,
            "status": status,
            "model": name,
            "output": output,
            "usage": _usage(outcome),
            "error": error,
            "incomplete_details": incomplete,
            "instructions": instructions,
            "previous_response_id": previous,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "store": store,
            "temperature": options.get("temperature"),
            "max_output_tokens": options.get("max_tokens"),
            "text": {"format": {"type": "text"}},
            "truncation": "disabled",
            "metadata": {},
        }

    def status_of(outcome: RunOutcome) -> str:
        return "failed" if outcome.failed else "incomplete" if outcome.truncated else "completed"

    if not streamed:
        output = _Output(None)
        try:
            whole = await run_whole(request, agent, prompt, output.on_event, server.scrub)
        except SessionInUseError:
            raise _busy() from None
        finally:
            release()
        if whole is None:  # the client left: nobody to answer
            return Response(status_code=499)
        outcome = whole
        await output.close()
        if outcome.failed:
            raise failure_status(outcome)
        return Response(dumps(envelope(status_of(outcome), output.items, outcome)),
                        media_type="application/json")  # fmt: skip

    async def produce(emit: Callable[[bytes], Awaitable[None]]) -> None:
        seq = 0

        async def send(kind: str, fields: dict[str, Any]) -> None:
            nonlocal seq
            data = dumps({"type": kind, "sequence_number": seq, **fields})
            seq += 1
            await emit(b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n")

        output = _Output(send)
        await send("response.created", {"response": envelope("in_progress", [], None)})
        await send("response.in_progress", {"response": envelope("in_progress", [], None)})
        try:
            outcome = await run_agent(agent, prompt, output.on_event, server.scrub)
        except SessionInUseError:
            err = _busy()
            await send("error", {"code": err.code, "message": err.message, "param": None})
            return
        await output.close()
        status = status_of(outcome)
        kind = {"completed": "response.completed", "failed": "response.failed",
                "incomplete": "response.incomplete"}[status]  # fmt: skip
        await send(kind, {"response": envelope(status, output.items, outcome)})

    def failed(message: str) -> bytes:
        data = dumps({"type": "error", "sequence_number": 0, "code": "server_error",
                      "message": message, "param": None})  # fmt: skip
        return b"event: error\ndata: " + data + b"\n\n"

    return EventStream(produce, release=release, failed=failed)


def _busy() -> ApiError:
    return ApiError(409, "a run on this conversation is in progress; retry when it ends",
                    code="conversation_busy")  # fmt: skip
