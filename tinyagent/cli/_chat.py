"""``tinyagent chat``: talk to a model from the terminal.

The reply streams as it comes, tool calls show as they run, and Ctrl-C aborts the reply
under way (the agent keeps the partial reply, marked aborted), not the program; Ctrl-D
or ``/quit`` leaves. With no key for the chosen provider (and no ``--base-url``), it
talks to the built-in local server instead, so it can be tried offline.

Structured as one task group: a reader task hands stdin's lines over a channel (the
blocking read runs in a worker thread, abandoned at exit), a watcher turns SIGINT into
``agent.abort()``, and the main task runs one prompt at a time.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread

from ..agent import Agent
from ..catalogue import PROVIDERS
from ..messages import Model
from ..providers import known_apis
from ..testing import LocalServer, RecordedRequest, Reply, ToolCallSpec, text_reply, tool_call_reply
from ._demo import _printer, calculator, clock
from ._models import LOCAL, model_for

__all__ = ["run_chat"]

HELP = (
    "/reset clears the conversation, /model NAME switches model (e.g. anthropic:claude-sonnet-4-5; "
    "alone, shows it), /quit leaves. Ctrl-C stops the reply under way."
)
_ARITHMETIC = re.compile(r"[\d.]+(?:\s*[-+*/%]+\s*[\d.()]+)+")


def _offline_reply(request: RecordedRequest) -> Reply:
    """The built-in 'model': arithmetic goes to the calculator, 'long' gets a long,
    slow answer (something to interrupt), anything else is echoed."""
    messages = request.json["messages"]
    last = messages[-1]
    if last["role"] == "tool":
        return text_reply(f"The calculator says {last['content']}.", chunk_size=4, chunk_delay=0.01)
    said = last["content"] if isinstance(last["content"], str) else str(last["content"])
    expression = _ARITHMETIC.search(said)
    if expression:
        spec = ToolCallSpec("calculator", {"expression": expression.group(0)})
        return tool_call_reply([spec], text="Let me calculate. ", chunk_size=4, chunk_delay=0.01)
    if "long" in said.lower():
        words = " ".join(f"word{i}" for i in range(400))
        return text_reply(f"(offline) A long answer: {words}.", chunk_size=6, chunk_delay=0.03)
    return text_reply(f"(offline) You said: {said}", chunk_size=4, chunk_delay=0.01)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _model(args: argparse.Namespace) -> Model | None:
    """The model asked for, or None when there is no key for it (offline)."""
    if args.base_url == LOCAL:
        _write("Chatting with the built-in local server (offline).\n")
        return None
    if args.base_url:
        name = args.model or "default"
        return model_for(name, args.base_url, api=args.api, api_key_env=args.api_key_env)
    model = model_for(args.model or "openai:gpt-4o-mini", None)
    info = PROVIDERS[model.provider_name]
    if info.key_env and not os.environ.get(info.key_env):
        _write(f"No ${info.key_env} set: chatting with the built-in local server (offline).\n")
        return None
    return model


class _Chat:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.replying = False

    async def watch_interrupts(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                if self.replying:
                    self.agent.abort("interrupted (Ctrl-C)")
                else:
                    _write("\n(Ctrl-D or /quit to leave)\nyou> ")

    def _current(self) -> str:
        m = self.agent.model
        if m is None:
            return "no model"
        return "the built-in local server" if m.provider == "local" else f"{m.provider_name}:{m.id}"

    def command(self, line: str) -> bool:
        """Run a ``/command``; False to leave."""
        name, _, arg = line.partition(" ")
        if name in ("/quit", "/exit"):
            return False
        if name == "/reset":
            self.agent.reset()
            _write("(conversation cleared)\n")
        elif name == "/model":
            if arg.strip():
                try:
                    model = Model.from_name(arg.strip())
                except (ValueError, TypeError) as exc:
                    _write(f"(cannot use that model: {exc})\n")
                    return True
                key = model.api_key_env
                if key and not os.environ.get(key):
                    # Leaving the local server for a model with no key would only fail.
                    _write(f"(no ${key} set: staying with {self._current()})\n")
                    return True
                self.agent.set_model(model)
                _write(f"(now talking to {arg.strip()})\n")
            else:
                _write(f"(model: {self._current()})\n")
        else:
            _write(f"(unknown command {name}) {HELP}\n")
        return True

    async def reply(self, line: str) -> None:
        self.replying = True
        try:
            await self.agent.prompt(line)
        finally:
            self.replying = False


async def _read_lines(send: anyio.abc.ObjectSendStream[str | None]) -> None:
    async with send:
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
            await send.send(line.rstrip("\n") if line else None)
            if not line:
                return


async def run_chat(args: argparse.Namespace) -> int:
    system = args.system or "You are a concise assistant. Use the tools for arithmetic and time."
    async with AsyncExitStack() as stack:
        model = _model(args)
        if model is None:
            server = await stack.enter_async_context(LocalServer(handler=_offline_reply))
            model = server.model("offline")
        agent = Agent(model, system, [calculator, clock])
        agent.subscribe(_printer(sys.stdout.isatty()))
        chat = _Chat(agent)
        _write(f"{HELP}\n")
        send, receive = anyio.create_memory_object_stream[str | None](4)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_read_lines, send)
            tg.start_soon(chat.watch_interrupts)
            async with receive:
                while True:
                    _write("you> ")
                    line = await receive.receive()
                    if line is None:
                        _write("\n")
                        break
                    line = line.strip()
                    if not line:
                        continue
                    if line.startswith("/"):
                        if not chat.command(line):
                            break
                        continue
                    await chat.reply(line)
            tg.cancel_scope.cancel()
    return 0


def add_parser(sub: Any) -> None:
    chat = sub.add_parser("chat", help="chat with a model in the terminal (offline without a key)")
    chat.add_argument(
        "--model", help="a name such as openai:gpt-4o-mini (or an id with --base-url)"
    )
    chat.add_argument(
        "--base-url",
        help="override the endpoint, e.g. http://localhost:8000/v1; 'local': the built-in server",
    )
    chat.add_argument(
        "--api",
        default=None,
        choices=known_apis(),
        help="the wire format (default: the provider's, else openai-chat)",
    )
    chat.add_argument(
        "--api-key-env", default=None, help="variable holding the key (default: the provider's)"
    )
    chat.add_argument("--system", help="the system prompt")
    chat.add_argument("--backend", choices=["trio", "asyncio"], default="trio", help="event loop")
