"""Google's Gemini API (``api="google-gemini"``): the request with its thought
signatures and function declarations, and the chunk parser.

A sub-room of ``providers``: it imports ``wire``, ``messages``, ``_util`` and the
providers' shared modules; nothing imports it but the providers' face.
"""

from __future__ import annotations

from ._provider import GeminiProvider
from ._schema import GeminiSchemaError

__all__ = ["GeminiProvider", "GeminiSchemaError"]
