"""Anthropic's Messages API (``api="anthropic-messages"``): the request with its cache
breakpoints and signed thinking, the event parser, and the encoded-history cache.

A sub-room of ``providers``: it imports ``wire``, ``messages``, ``_util`` and the
providers' shared modules; nothing imports it but the providers' face.
"""

from __future__ import annotations

from ._provider import AnthropicProvider

__all__ = ["AnthropicProvider"]
