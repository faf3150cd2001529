"""``<think>…</think>`` in a reply's text, read as thinking (opt-in: ``Model.think_tags``).

Models served by vLLM, llama.cpp or Ollama (DeepSeek-R1 distills, Qwen3, MiniMax) stream
their reasoning inside these tags in the text. A tag can arrive split across chunks, so
the end of a piece that could be the start of a tag is held back until the next piece
says (or the stream ends). ``native/src/assembler.rs`` has the same state machine.
"""

from __future__ import annotations

__all__ = ["CLOSE", "OPEN", "ThinkTagSplitter"]

OPEN = "<think>"
CLOSE = "</think>"


class ThinkTagSplitter:
    __slots__ = ("in_think", "pending")

    def __init__(self) -> None:
        self.in_think = False
        self.pending = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """Pieces of ``(is_thinking, text)``, never empty, in order."""
        buf = self.pending + text if self.pending else text
        self.pending = ""
        out: list[tuple[bool, str]] = []
        while buf:
            tag = CLOSE if self.in_think else OPEN
            i = buf.find(tag)
            if i >= 0:
                if i:
                    out.append((self.in_think, buf[:i]))
                self.in_think = not self.in_think
                buf = buf[i + len(tag) :]
                continue
            keep = 0
            for k in range(min(len(tag) - 1, len(buf)), 0, -1):
                if buf.endswith(tag[:k]):
                    keep = k
                    break
            if len(buf) > keep:
                out.append((self.in_think, buf[: len(buf) - keep]))
            self.pending = buf[len(buf) - keep :]
            break
        return out

    def flush(self) -> list[tuple[bool, str]]:
        """What is held back, at the end of the stream (it was not a tag after all)."""
        held, self.pending = self.pending, ""
        return [(self.in_think, held)] if held else []
