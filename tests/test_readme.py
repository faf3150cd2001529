"""The README's quick start runs as written (against the local server, not OpenAI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tinyagent.testing import LocalServer, text_reply, tool_call_reply

pytestmark = pytest.mark.anyio

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def quick_start() -> str:
    block = re.search(r"## Quick start\n\n```python\n(.*?)```", README, re.S)
    assert block is not None, "the README lost its quick start"
    code = block.group(1)
    assert 'Model("gpt-4o-mini", "https://api.openai.com/v1", api_key_env="OPENAI_API_KEY")' in code
    # Point the model at the local server, and do not start a second event loop.
    code = code.replace(
        'Model("gpt-4o-mini", "https://api.openai.com/v1", api_key_env="OPENAI_API_KEY")',
        "SERVER.model()",
    )
    return code.replace("trio.run(main)", "")


async def test_quick_start_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    replies = [tool_call_reply([("add", {"a": 2, "b": 40})]), text_reply("42")]
    async with LocalServer(replies) as server:
        namespace: dict[str, Any] = {"SERVER": server}
        exec(quick_start(), namespace)
        await namespace["main"]()
        tool_result = server.requests[1].json["messages"][-1]
    assert capsys.readouterr().out.strip() == "42"
    assert tool_result == {"role": "tool", "tool_call_id": "call_0", "content": "42"}
