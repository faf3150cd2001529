"""OpenAI-compatible chat completions (``api="openai-chat"``): OpenAI, OpenRouter,
vLLM, llama.cpp, Ollama… The request, its cache markers, the chunk parser.

A sub-room of ``providers``: it imports ``wire``, ``messages``, ``_util`` and the
providers' shared modules; nothing imports it but the providers' face.
"""

from __future__ import annotations

from ._provider import OpenAIChatProvider

__all__ = ["OpenAIChatProvider"]
