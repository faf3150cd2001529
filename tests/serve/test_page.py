"""The chat page in a real headless Chromium: ``tinyagent serve`` with no arguments
serves it, a prompt streams the demo agent's answer with its tool calls shown, the
conversation survives a reload, and the stop button ends a run on the server."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from ..cli.test_serve import running
from .browser import browser

NAPPER = textwrap.dedent(
    """
    import anyio
    from pathlib import Path
    from tinyagent import Agent, tool
    from tinyagent.testing import local_model

    @tool
    async def nap(seconds: float) -> str:
        \"\"\"Sleep a while.\"\"\"
        Path("napping").touch()
        try:
            await anyio.sleep(seconds)
        finally:
            Path("woken").touch()
        return "rested"

    def napper():
        return Agent(local_model(), "You nap.", [nap])
    """
)


def _ask(page: object, text: str) -> None:
    page.js(f"document.getElementById('prompt').value = {text!r}")  # type: ignore[attr-defined]
    page.js("document.getElementById('send').click()")  # type: ignore[attr-defined]


def test_the_page_streams_the_demo_agent_with_its_tool_calls(tmp_path: Path) -> None:
    with running(tmp_path) as (_, url), browser() as page:
        page.open(url + "/")
        page.wait_for("document.getElementById('agent').value === 'demo'")
        _ask(page, "what is 6*7")
        page.wait_for("document.getElementById('stop').disabled === false")  # running
        page.wait_for("!document.getElementById('send').disabled")  # the run ended
        answer = page.wait_for(
            "[...document.querySelectorAll('.msg.assistant')].map(e => e.textContent)"
            ".find(t => t.includes('The calculator says')) || ''"
        )
        assert "6*7 = 42" in answer
        tools = page.js(
            "[...document.querySelectorAll('.tool')].map(e => [e.dataset.name, e.dataset.state, e.textContent])"
        )
        names = {name: (state, text) for name, state, text in tools}
        assert names["calculator"][0] == "done" and "= 6*7 = 42" in names["calculator"][1]
        assert names["clock"][0] == "done" and "UTC" in names["clock"][1]
        # the conversation is kept: a reload shows it again
        page.open(url + "/")
        shown = page.wait_for("[...document.querySelectorAll('.msg')].map(e => e.className)")
        assert shown[0] == "msg user" and "msg assistant" in shown


def test_the_stop_button_ends_the_run_on_the_server(tmp_path: Path) -> None:
    (tmp_path / "napagents.py").write_text(NAPPER)
    with running(tmp_path, "--agent", "napagents:napper") as (proc, url), browser() as page:
        page.open(url + "/")
        page.wait_for("document.getElementById('agent').value === 'napper'")
        _ask(page, "nap 60")
        page.wait_for("document.querySelector('.tool[data-state=running]') !== null")
        assert page.js("document.getElementById('stop').disabled") is False
        assert not (tmp_path / "woken").exists()
        page.js("document.getElementById('stop').click()")
        page.wait_for(
            "[...document.querySelectorAll('.msg.error')].some(e => e.textContent === 'stopped')"
        )
        assert page.js("document.getElementById('send').disabled") is False
        # the server cancelled the run: the tool was woken long before its 60 s
        deadline = time.monotonic() + 20
        while not (tmp_path / "woken").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "woken").exists()
        assert proc.poll() is None  # and the server serves on
