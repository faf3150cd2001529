"""``GET /``: the chat page (one static file, no build step, nothing from a CDN)."""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

__all__ = ["index"]

_PAGE: bytes | None = None


async def index(request: Request) -> Response:
    global _PAGE
    if _PAGE is None:
        _PAGE = files(__package__).joinpath("page.html").read_bytes()
    return HTMLResponse(_PAGE, headers={"content-security-policy": "default-src 'self'; "
                        "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"})  # fmt: skip
