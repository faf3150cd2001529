"""Errors a server answers with: a status, one line saying what was wrong, and the
shape each protocol's clients read (OpenAI's ``{"error": {...}}``, the proxy's
``{"error": "..."}``). Never a key, a token or a traceback."""

from __future__ import annotations

from typing import Any

from .._util.json import dumps

__all__ = ["ApiError", "error_body"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


class ApiError(Exception):
    """An answer other than success, raised anywhere in a route and written once."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return _TYPES.get(
            self.status, "server_error" if self.status >= 500 else "invalid_request_error"
        )


def error_body(err: ApiError, shape: str) -> bytes:
    """The JSON body of ``err`` in a protocol's ``shape`` (``openai`` or ``proxy``)."""
    body: Any
    if shape == "proxy":  # pi's client reads {"error": "..."}
        body = {"error": err.message, "code": err.code}
    else:
        body = {"error": {"message": err.message, "type": err.type, "param": err.param,
                          "code": err.code}}  # fmt: skip
    return dumps(body)
