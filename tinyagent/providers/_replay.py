"""What may be sent back to a model: the signed thinking and reasoning items of a reply
are replayed only to the model that wrote them, on every wire format alike."""

from __future__ import annotations

import hashlib
import re

from ..messages import AssistantMessage, Model

__all__ = ["safe_tool_id", "same_model"]

_ID_OK = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")


def same_model(message: AssistantMessage, model: Model) -> bool:
    """Whether ``message`` came from the model a request goes to: only then may its
    signed thinking be sent back."""
    return (
        message.api == model.api
        and message.model == model.id
        and message.provider == model.provider_name
    )


def safe_tool_id(original: str) -> str:
    """A tool call id from anywhere as ``^[a-zA-Z0-9_-]{1,64}$`` (what Anthropic and
    Bedrock accept): unchanged when valid, else cleaned and suffixed with a digest of the
    original (so two ids that clean to the same text stay distinct)."""
    if _ID_OK.fullmatch(original):
        return original
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{_ID_BAD.sub('_', original)[:53]}_{digest}"
