"""OpenAI's Responses API (``api="openai-responses"``): the request with replayed
reasoning items, and the event parser.

A sub-room of ``providers``: it imports ``wire``, ``messages``, ``_util`` and the
providers' shared modules; nothing imports it but the providers' face.
"""

from __future__ import annotations

from ._provider import OpenAIResponsesProvider

__all__ = ["OpenAIResponsesProvider"]
