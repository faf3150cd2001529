"""Client CPU per ``Agent.prompt()`` as the transcript grows: 50 against 5,000 messages,
for each wire format on each transport. The encoded history is kept across prompts, so a
prompt should cost about the same whatever the transcript's length (the goal: within 2x
from 50 to 5,000 messages).

    python benches/bench_history.py [--prompts N]
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stream import start_server

from tinyagent import Agent, AssistantMessage, Message, Model, StopReason, TextContent, UserMessage
from tinyagent.transports import Connections


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def history(n: int, model: Model) -> list[Message]:
    out: list[Message] = []
    for i in range(n // 2):
        out.append(UserMessage(f"Question {i}: what is {i} squared, and why does it matter?"))
        out.append(
            AssistantMessage(
                (TextContent(f"{i} squared is {i * i}. It matters because squares grow fast."),),
                StopReason.STOP,
                model=model.id,
                provider=model.provider_name,
                api=model.api,
            )
        )
    return out


async def per_prompt(base: str, size: int, transport: str, api: str, prompts: int) -> float:
    model = Model("atext-5" if api == "anthropic-messages" else "text-5", base, api=api)  # type: ignore[arg-type]
    async with Connections() as session:
        agent = Agent(
            model,
            messages=history(size, model),
            stream_options={"transport": transport, "session": session},
        )
        for _ in range(3):
            await agent.prompt("warm up")
        c0 = cpu()
        for _ in range(prompts):
            new = await agent.prompt("one more")
            assert new[-1].error_message is None, new[-1].error_message
        return (cpu() - c0) / prompts * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=40)
    args = ap.parse_args()
    proc, base = start_server()
    try:
        print("| format | transport | 50 messages (ms) | 5,000 messages (ms) | ratio |")
        print("|---|---|---:|---:|---:|")
        for api in ("openai-chat", "anthropic-messages"):
            for transport in ("native", "httpx+native", "httpx"):
                small = min(
                    anyio.run(per_prompt, base, 50, transport, api, args.prompts, backend="trio")
                    for _ in range(3)
                )
                large = min(
                    anyio.run(per_prompt, base, 5000, transport, api, args.prompts, backend="trio")
                    for _ in range(3)
                )
                print(
                    f"| {api} | {transport} | {small:.2f} | {large:.2f} | {large / small:.2f}x |",
                    flush=True,
                )
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
