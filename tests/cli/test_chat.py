"""``tinyagent chat`` driven in a pseudo-terminal, as a person would use it, against
the built-in local server (no key), on both event loops: streamed replies, a tool call
shown as it runs, Ctrl-C stopping the reply but not the program, the commands."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import ROOT


class Terminal:
    def __init__(self, backend: str) -> None:
        self.master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tinyagent", "chat", "--backend", backend],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "PYTHONPATH": str(ROOT)},
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, within: float = 20.0) -> str:
        """Read until ``text`` has appeared; return everything read up to it."""
        deadline = time.monotonic() + within
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see {text!r}; saw:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the chat ended before {text!r}:\n{self.seen[-2000:]}")
                self.seen += chunk.decode("utf-8", "replace")
        at = self.seen.index(text) + len(text)
        out, self.seen = self.seen[:at], self.seen[at:]
        return out

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self.master)


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_a_chat_in_a_terminal(backend: str) -> None:
    t = Terminal(backend)
    try:
        t.expect("No $OPENAI_API_KEY set: chatting with the built-in local server (offline).")
        t.expect("you> ")
        t.send("hello there")
        t.expect("(offline) You said: hello there")
        t.expect("[stop; ")
        t.expect("you> ")

        t.send("what is 6 * 7")
        shown = t.expect("[stop; ")
        assert "-> calculator({'expression': '6 * 7'})" in shown
        assert "<- calculator: 6 * 7 = 42" in shown
        assert "The calculator says 6 * 7 = 42." in shown
        t.expect("you> ")

        t.send("tell me something long")
        t.expect("word5 ")  # it is streaming
        t.proc.send_signal(signal.SIGINT)  # Ctrl-C
        stopped = t.expect("]")
        assert "[aborted: interrupted (Ctrl-C)" in stopped
        assert "word399" not in stopped, "the reply stopped"
        t.expect("you> ")
        assert t.proc.poll() is None, "the program goes on"

        t.send("/model")
        t.expect("(model: the built-in local server)")
        t.send("/model nowhere:x")
        t.expect("(cannot use that model: unknown provider 'nowhere'")
        t.send("/model anthropic:claude-sonnet-4-5")  # no key: it stays, and says so
        t.expect("(no $ANTHROPIC_API_KEY set: staying with the built-in local server)")
        t.send("/reset")
        t.expect("(conversation cleared)")
        t.send("hello again")
        t.expect("(offline) You said: hello again")
        t.expect("you> ")

        t.proc.send_signal(signal.SIGINT)  # Ctrl-C at the prompt: a hint, not an exit
        t.expect("(Ctrl-D or /quit to leave)")
        t.send("/quit")
        assert t.proc.wait(20) == 0
    finally:
        t.close()
