"""``python fd_child.py BASE_URL LIMIT N BACKEND``: N concurrent native calls to the
server at BASE_URL with this process's descriptor limit set to LIMIT; prints how many
succeeded, the errors, and anything raised."""

from __future__ import annotations

import json
import resource
import sys

import anyio

import tinyagent
from tinyagent import Context, Model, UserMessage


async def main(base_url: str, n: int) -> None:
    if True:
        model = Model("m", base_url)
        ctx = Context("", [UserMessage("hi")])
        ok = 0
        errors: dict[str, int] = {}
        raised: list[str] = []

        async def one() -> None:
            nonlocal ok
            try:
                m = await tinyagent.complete(model, ctx, transport="native", max_retries=0)
            except Exception as exc:  # what must not happen: a call raising
                raised.append(f"{type(exc).__name__}: {exc}")
                return
            if m.stop_reason == "error":
                key = m.failure.code if m.failure else "?"
                errors[key] = errors.get(key, 0) + 1
            else:
                ok += 1

        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
    print(json.dumps({"ok": ok, "errors": errors, "raised": raised[:3]}))


if __name__ == "__main__":
    base_url, limit, n, backend = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    anyio.run(main, base_url, n, backend=backend)
