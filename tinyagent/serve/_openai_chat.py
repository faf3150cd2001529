"""``POST /v1/chat/completions``: a served agent behind OpenAI's chat completions API.

``model`` names the agent. The messages are the conversation (sent back whole each
time, as chat completions works); the user turns at the end are the prompt. The agent's
tools run here, on the server: the client sees the text (and ``reasoning_content``) of
every reply of the run, and one finish reason at the end. Client-declared ``tools`` are
refused: this endpoint answers with the agent's own.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._util.json import dumps
from ..messages import AgentEvent, MessageUpdateEvent, TextDeltaEvent, ThinkingDeltaEvent
from ._errors import ApiError, error_body
from ._openai_wire import (
    agent_request,
    bad,
    chat_history,
    failure_status,
    number,
    split_prompt,
    usage_counts,
)
from ._runs import RunOutcome, bound, run_agent, run_whole
from ._state import server_of
from ._stream import Emit, EventStream

__all__ = ["chat_completions"]

_REFUSED = {
    "functions": "client functions are not run here: the agent's own tools run on the server",
    "response_format": "a response format is set by the served agent, not per request",
    "logprobs": "log probabilities are not available from a served agent",
}


def _usage(outcome: RunOutcome) -> dict[str, Any]:
    prompt, completion, cached, reasoning = usage_counts(outcome)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _finish(outcome: RunOutcome) -> str:
    return "length" if outcome.truncated else "stop"


async def chat_completions(request: Request) -> Response:
    server = server_of(request)
    token = server.authorize(request)
    body = await server.read_json(request)
    name, options = agent_request(body, ("max_completion_tokens", "max_tokens"))
    for key, why in _REFUSED.items():
        if body.get(key):
            raise bad(key, why)
    n = number(body, "n", whole=True)
    if n not in (None, 1):
        raise bad("n", "a served agent gives one answer per request")
    system, history = chat_history(body.get("messages"))
    before, prompt = split_prompt(history)
    streamed = body.get("stream") is True
    stream_opts = body.get("stream_options")
    with_usage = isinstance(stream_opts, dict) and stream_opts.get("include_usage") is True

    server.check_agent(token, name)
    agent = server.agents.make(name)
    if system:
        agent.set_system_prompt(
            f"{agent.system_prompt}\n\n{system}" if agent.system_prompt else system
        )
    if options:
        agent.set_stream_options(**options)
    bound(agent, server.limits.run_deadline)
    agent.replace_messages(before)
    release = server.gate.take(server.caller(request, token))
    completion_id = "chatcmpl-" + secrets.token_hex(12)
    created = int(time.time())

    if not streamed:
        try:
            whole = await run_whole(request, agent, prompt, _ignore, server.scrub)
        finally:
            release()
        if whole is None:  # the client left: nobody to answer
            return Response(status_code=499)
        outcome = whole
        if outcome.failed:
            raise failure_status(outcome)
        message: dict[str, Any] = {"role": "assistant", "content": outcome.text, "refusal": None}
        if outcome.thinking:
            message["reasoning_content"] = outcome.thinking
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": name,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": _finish(outcome),
                    "logprobs": None,
                }
            ],
            "usage": _usage(outcome),
        }
        return Response(dumps(payload), media_type="application/json")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return b"data: " + dumps(obj) + b"\n\n"

    async def produce(emit: Emit) -> None:
        await emit(chunk({"role": "assistant", "content": ""}))

        async def on_event(event: AgentEvent) -> None:
            if isinstance(event, MessageUpdateEvent):
                inner = event.event
                if isinstance(inner, TextDeltaEvent):
                    await emit(chunk({"content": inner.delta}))
                elif isinstance(inner, ThinkingDeltaEvent):
                    await emit(chunk({"reasoning_content": inner.delta}))

        outcome = await run_agent(agent, prompt, on_event, server.scrub)
        if outcome.failed:
            err = failure_status(outcome)
            await emit(b"data: " + error_body(err, "openai") + b"\n\n")
        else:
            await emit(chunk({}, _finish(outcome)))
            if with_usage:
                obj = {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": name,
                    "choices": [],
                    "usage": _usage(outcome),
                }
                await emit(b"data: " + dumps(obj) + b"\n\n")
        await emit(b"data: [DONE]\n\n")

    def failed(message: str) -> bytes:
        return b"data: " + error_body(ApiError(500, message), "openai") + b"\n\n"

    return EventStream(produce, release=release, failed=failed)


async def _ignore(event: AgentEvent) -> None:
    return None
