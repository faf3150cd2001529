"""Providers: one wire format each, plugged into every transport through one protocol.

``openai-chat`` (any OpenAI-compatible ``/chat/completions``), ``anthropic-messages``
(Anthropic's Messages API and the endpoints that speak it) and ``openai-responses``
(OpenAI's Responses API) ship with the package. A new format is a new :class:`Provider` passed to
:func:`register_provider`; nothing else changes.

It imports ``wire``, ``messages`` and ``_util``; a sub-room per wire format
(``anthropic``, ``openai_chat``, ``openai_responses``). Only ``transports`` and the
rooms above use it, through this face, and nothing outside it reads ``Model.api``.
"""

from __future__ import annotations

from ..messages import install_api_check
from ._failures import http_failure, is_context_overflow, redirect_failure
from ._protocol import ByteParser, PayloadParser, Provider, StopVerdict
from ._registry import (
    framing_of,
    get_provider,
    known_apis,
    prepare_request,
    provider_for,
    register_provider,
    takes_response_format,
    takes_thinking_budget,
    unknown_api,
)
from .anthropic import AnthropicProvider
from .bedrock import BedrockProvider
from .google_gemini import GeminiProvider, GeminiSchemaError
from .openai_chat import OpenAIChatProvider
from .openai_responses import OpenAIResponsesProvider
from .proxy import ProxyProvider, RelayEncoder, RelayRequest, RelayRequestError, read_relay_request

__all__ = [
    "AnthropicProvider",
    "BedrockProvider",
    "ByteParser",
    "GeminiProvider",
    "GeminiSchemaError",
    "OpenAIChatProvider",
    "OpenAIResponsesProvider",
    "PayloadParser",
    "Provider",
    "ProxyProvider",
    "RelayEncoder",
    "RelayRequest",
    "RelayRequestError",
    "StopVerdict",
    "framing_of",
    "get_provider",
    "http_failure",
    "is_context_overflow",
    "known_apis",
    "prepare_request",
    "provider_for",
    "read_relay_request",
    "redirect_failure",
    "register_provider",
    "takes_response_format",
    "takes_thinking_budget",
]

register_provider(OpenAIChatProvider())
register_provider(AnthropicProvider())
register_provider(OpenAIResponsesProvider())
register_provider(GeminiProvider())
register_provider(BedrockProvider())
register_provider(ProxyProvider())
# A Model whose api no provider serves is refused where it is made, naming the known ones.
install_api_check(unknown_api)
