"""Serving agents over HTTP: ``tinyagent serve``, or :func:`app` in a server of yours.

One ASGI application (Starlette) answers every protocol over the same served agents:
the seed's proxy protocol (``POST /api/stream``: model calls relayed with the server's
keys), OpenAI's chat completions and Responses APIs (``model`` names an agent; its tools
run here), AG-UI, and a chat page at ``/``. A client that hangs up cancels its run; a
token reaches only the agents and models it is given; every limit answers in one line.

It imports the agent and the rooms below it (and Starlette, the ``serve`` extra); only
the CLI imports it.
"""

from __future__ import annotations

from ._app import app
from ._config import Limits, Token, tokens_from_text
from ._errors import ApiError
from ._server import SERVERS, serve_forever, serving
from ._state import Server

__all__ = [
    "SERVERS",
    "ApiError",
    "Limits",
    "Server",
    "Token",
    "app",
    "serve_forever",
    "serving",
    "tokens_from_text",
]
