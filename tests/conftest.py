from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent


def conformance_dir() -> Path:
    """The recorded provider streams (``tests/conformance/``, see its README and NOTICE);
    ``$TINYAGENT_CONFORMANCE`` points elsewhere (a newer set, say)."""
    env = os.environ.get("TINYAGENT_CONFORMANCE")
    return Path(env) if env else Path(__file__).resolve().parent / "conformance"


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


TRANSPORTS = ["httpx", "httpx+native", "native"]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Every end-to-end stream test runs on each path: pure Python over httpx, the
    native parser over httpx, and the native transport."""
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server, started once for the whole run (``postgres_server.py``)."""
    from .postgres_server import postgres_server

    with postgres_server() as url:
        yield url
