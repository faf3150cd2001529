"""The demo behind ``tinyagent demo``."""

from __future__ import annotations

import argparse
import sys

from ._messages import Context, Model, UserMessage
from ._stream import stream
from ._stream_events import ErrorEvent, TextDeltaEvent, ThinkingDeltaEvent
from .testing import LocalServer, text_reply

DEMO_TEXT = (
    "tinyagent streams this reply from a real HTTP server on 127.0.0.1, through the same "
    "SSE decoder and chat-completions parser that talk to OpenAI, OpenRouter, vLLM or "
    "Ollama. Run with --model and --base-url to talk to a real endpoint."
)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


async def _stream_to_terminal(model: Model, ctx: Context) -> int:
    async with stream(model, ctx) as events:
        async for e in events:
            if isinstance(e, ThinkingDeltaEvent):
                _write(f"\x1b[2m{e.delta}\x1b[0m")
            elif isinstance(e, TextDeltaEvent):
                _write(e.delta)
            elif isinstance(e, ErrorEvent):
                _write(f"\n[error] {e.message.error_message}\n")
                return 1
        message = events.message
    assert message is not None
    u = message.usage
    _write(f"\n[{message.stop_reason.value}; {u.input} in, {u.output} out]\n")
    return 0


async def run_demo(args: argparse.Namespace) -> int:
    prompt = args.prompt or "Say hello and explain what you are in two sentences."
    ctx = Context("You are a concise assistant.", [UserMessage(prompt)])
    if args.model:
        model = Model(args.model, args.base_url, api_key_env=args.api_key_env)
        return await _stream_to_terminal(model, ctx)
    delay = 0.0 if args.fast else 0.02
    reply = text_reply(
        DEMO_TEXT, reasoning="The user wants a demo. ", chunk_size=6, chunk_delay=delay
    )
    async with LocalServer([reply]) as server:
        return await _stream_to_terminal(server.model("demo-model"), ctx)
