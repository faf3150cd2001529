"""What may be sent back to a model: the signed thinking and reasoning items of a reply
are replayed only to the model that wrote them, on every wire format alike."""

from __future__ import annotations

from ..messages import AssistantMessage, Model

__all__ = ["same_model"]


def same_model(message: AssistantMessage, model: Model) -> bool:
    """Whether ``message`` came from the model a request goes to: only then may its
    signed thinking be sent back."""
    return (
        message.api == model.api
        and message.model == model.id
        and message.provider == model.provider_name
    )
