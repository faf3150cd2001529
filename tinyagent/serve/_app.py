"""The ASGI application: routes for each protocol over one set of served agents and
models, with the rules every route shares (auth, body limits, run slots, errors)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..agent import Agent
from ..messages import Model
from ..sessions import Session
from ._agui import agui_run
from ._config import Limits, Token
from ._errors import ApiError, error_body
from ._openai_chat import chat_completions
from ._openai_responses import responses
from ._page import index
from ._proxy import proxy_stream
from ._served import AgentFactory
from ._state import Server, server_of
from ._v1_models import list_models

__all__ = ["app"]

logger = logging.getLogger("tinyagent.serve")


def _shape(request: Request) -> str:
    return "proxy" if request.url.path.startswith("/api/") else "openai"


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    server = server_of(request)
    exc.message = server.scrub(exc.message)
    return Response(
        error_body(exc, _shape(request)),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    err = ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
    return await _api_error(request, err)


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error in %s %s: %s", request.method, request.url.path,
                 type(exc).__name__)  # fmt: skip
    err = ApiError(500, "the server failed to answer this request; it has been logged")
    return await _api_error(request, err)


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def app(
    agents: Mapping[str, AgentFactory | Agent] | None = None,
    *,
    models: Iterable[Model | str] = (),
    tokens: Sequence[Token] | None = None,
    limits: Limits | None = None,
    sessions: Callable[[str], Session] | None = None,
    cors_origins: Sequence[str] = (),
    page: bool = True,
) -> Starlette:
    """The ASGI application serving ``agents`` (name → factory returning an
    :class:`Agent`, or an agent, cloned per run) and relaying ``models`` (the proxy
    protocol), for a server of your own (hypercorn, uvicorn…).

    ``tokens``: who may call (None: anyone — for a server on 127.0.0.1 only);
    ``sessions``: the store of conversations, ``session_id -> Session`` (default: in
    memory, this process only); ``cors_origins``: origins a browser page may call from.
    """
    server = Server(agents or {}, models, tokens, limits or Limits(), sessions)
    routes = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/api/stream", proxy_stream, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/agui/{agent}", agui_run, methods=["POST"]),
    ]
    if page:
        routes.append(Route("/", index, methods=["GET"]))
    middleware = []
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
            )
        )
    application = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    application.state.server = server
    return application
