"""``GET /v1/models``: the served agents a token may use, as OpenAI lists models."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._state import server_of

__all__ = ["list_models"]


async def list_models(request: Request) -> Response:
    server = server_of(request)
    token = server.authorize(request)
    names = [n for n in server.agents.names() if token is None or token.may_use_agent(n)]
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "tinyagent"} for n in names
            ],
        }
    )
