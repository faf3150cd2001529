"""The proxy protocol's request: what the seed's ``stream_proxy`` sends, plus what our
records carry that its messages cannot (a redacted thinking block, image bytes, a call's
raw arguments), read back by our relay (``_relay.py``)."""

from __future__ import annotations

from typing import Any

from ... import serde
from ..._util.json import dumps
from ...messages import Context, Model

__all__ = ["build_body", "stream_url"]


def stream_url(model: Model) -> str:
    """``POST {base_url}/api/stream``: the base URL is the relay's root, as the seed's
    ``proxy_url`` is."""
    return model.base_url.rstrip("/") + "/api/stream"


def build_body(
    model: Model,
    context: Context,
    *,
    temperature: float | None,
    max_tokens: int | None,
    reasoning_effort: str | None,
    tool_choice: Any,
    extra_body: Any,
    session_id: str | None,
    response_format: Any,
) -> bytes:
    if extra_body:
        raise ValueError(
            "extra_body cannot go through the proxy protocol: the relay builds the "
            "provider's request itself (configure the model on the relay instead)"
        )
    options: dict[str, Any] = {
        "temperature": temperature,
        "maxTokens": max_tokens if max_tokens is not None else model.max_tokens,
        "reasoning": reasoning_effort,
    }
    if tool_choice is not None:
        options["toolChoice"] = tool_choice
    body = {
        "model": {"provider": model.provider or "", "id": model.id, "api": model.api},
        "context": {
            "system_prompt": context.system_prompt,
            "messages": [serde.unstructure(m) for m in context.messages],
            "tools": [
                {"name": t.name, "description": t.description, "parameters": dict(t.parameters)}
                for t in context.tools
            ],
        },
        "options": options,
    }
    if session_id:
        body["sessionId"] = session_id
    return dumps(body)
