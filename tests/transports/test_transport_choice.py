"""Which transport a call uses, with and without the native extension."""

from __future__ import annotations

import httpx
import pytest

import tinyagent
from tinyagent.transports import _native_bridge, resolve_transport

MODEL = tinyagent.Model("m", "http://127.0.0.1:9/v1")
CTX = tinyagent.Context(messages=[tinyagent.UserMessage("hi")])


def test_native_is_the_default_when_built() -> None:
    assert tinyagent.native_available()
    assert resolve_transport(None) == "native"


def test_an_httpx_client_means_the_httpx_transport() -> None:
    assert resolve_transport(None, httpx.AsyncClient()) == "httpx"
    assert resolve_transport("httpx+native", object()) == "httpx+native"


def test_without_the_extension_the_pure_path_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # What an install without a Rust toolchain looks like.
    monkeypatch.setattr(_native_bridge, "_native", None)
    assert not tinyagent.native_available()
    assert resolve_transport(None) == "httpx"
    tinyagent.stream(MODEL, CTX)  # builds a pure-path stream without error
    with pytest.raises(ValueError, match="native transport is not available"):
        tinyagent.stream(MODEL, CTX, transport="native")
