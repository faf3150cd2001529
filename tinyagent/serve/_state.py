"""The state every route shares: the served agents and models, the tokens, the limits,
the run slots and the conversations, with the checks each route makes first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from starlette.requests import Request

from .._util.json import loads
from ..agent import Agent
from ..messages import Model
from ..sessions import Session
from ._config import Limits, Token, TokenTable
from ._conversations import Conversations
from ._errors import ApiError
from ._gate import RunGate
from ._served import AgentFactory, ServedAgents, ServedModels

__all__ = ["Server", "server_of"]


class Server:
    """The state the routes share; one per application."""

    def __init__(
        self,
        agents: Mapping[str, AgentFactory | Agent],
        models: Iterable[Model | str],
        tokens: Sequence[Token] | None,
        limits: Limits,
        sessions: Callable[[str], Session] | None,
    ) -> None:
        self.agents = ServedAgents(agents)
        self.models = ServedModels(models)
        self.tokens = TokenTable(tokens) if tokens is not None else None
        self.limits = limits
        self.gate = RunGate(limits.runs_per_token, limits.retry_after)
        self.conversations = Conversations(sessions)
        self._secrets = self.models.secrets() + [t.secret for t in tokens or ()]

    # --- what every route does first ---------------------------------------------------

    def authorize(self, request: Request) -> Token | None:
        """The caller's token (None when the server takes none); 401 without a valid one."""
        if self.tokens is None:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(
                401,
                "this server needs a token: send 'Authorization: Bearer <token>'",
                code="missing_token",
            )
        token = self.tokens.find(presented.strip())
        if token is None:
            raise ApiError(401, "the token is not valid here", code="invalid_token")
        return token

    def caller(self, request: Request, token: Token | None) -> str:
        """Whose run slots a request uses: its token's, else its address's."""
        if token is not None:
            return "token:" + (token.name or str(id(token)))
        client = request.client
        return "addr:" + (client.host if client else "unknown")

    def check_agent(self, token: Token | None, name: str) -> None:
        if token is not None and not token.may_use_agent(name):
            raise ApiError(403, f"this token may not use agent {name!r}", code="forbidden")

    def check_model(self, token: Token | None, name: str) -> None:
        if token is not None and not token.may_use_model(name):
            raise ApiError(403, f"this token may not use model {name!r}", code="forbidden")

    async def read_json(self, request: Request) -> Any:
        """The body as JSON, refused (413) past ``max_body_bytes`` without reading on."""
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the request body is over this server's {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        async with aclosing(request.stream()) as body_chunks:
            async for chunk in body_chunks:
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        413, f"the request body is over this server's {limit}-byte limit"
                    )
                chunks.append(chunk)
        body = b"".join(chunks)
        if not body:
            raise ApiError(400, "the request has no body: a JSON object was expected")
        try:
            return loads(body)
        except ValueError as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}") from None

    def scrub(self, text: str) -> str:
        """``text`` with every secret this server holds taken out."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text


def server_of(request: Request) -> Server:
    server: Server = request.app.state.server
    return server
