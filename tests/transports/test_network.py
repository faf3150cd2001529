"""Proxies and private CAs are honoured the same by every transport: a local HTTPS
server with a test CA (trustme) and a local proxy that the tests start."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import anyio.abc
import pytest
import trustme

import tinyagent
from tinyagent import Context, FailureKind, UserMessage
from tinyagent.testing import LocalServer, text_reply
from tinyagent.testing._tcp import serve_tcp

from ._proxy import LocalProxy

pytestmark = pytest.mark.anyio
CTX = Context(messages=[UserMessage("hi")])
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
              "https_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture
async def proxy() -> AsyncIterator[LocalProxy]:
    async with LocalProxy().running() as p:
        yield p


async def test_a_private_ca_given_explicitly(ca: trustme.CA, ca_file: str, transport: str) -> None:
    async with LocalServer([text_reply("secure")], ssl_context=server_context(ca)) as server:
        assert server.base_url.startswith("https://")
        m = await tinyagent.complete(server.model(), CTX, transport=transport, ca_bundle=ca_file)
    assert m.text == "secure", m.error_message


REFUSED = (
    "could not connect to {url}: its TLS certificate was refused (not signed by a trusted "
    "CA, issued for another name, or expired); for a private CA or an intercepting proxy, "
    "pass ca_bundle= or set SSL_CERT_FILE"
)


async def test_an_unknown_ca_is_refused_the_same_way(
    ca: trustme.CA, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Said as a refused certificate, with the remedy, and not retried (no retry cures
    # it): the default retries are left on.
    caplog.set_level(logging.INFO, logger="tinyagent")
    async with LocalServer([text_reply("never")], ssl_context=server_context(ca)) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert m.failure == tinyagent.Failure(FailureKind.CONNECTION, None, "tls")
    assert m.error_message == REFUSED.format(url=f"{server.base_url}/chat/completions")
    assert not [r for r in caplog.records if "retry" in r.getMessage().lower()]


async def test_a_certificate_for_another_name_is_refused_the_same_way(
    ca_file: str, ca: trustme.CA, transport: str
) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("other.example").configure_cert(ctx)  # signed by the CA given, wrong name
    async with LocalServer([text_reply("never")], ssl_context=ctx) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport, ca_bundle=ca_file)
    assert m.failure is not None and m.failure.code == "tls"
    assert m.error_message == REFUSED.format(url=f"{server.base_url}/chat/completions")


async def test_a_plain_refused_connection_is_still_connect_and_retried(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tinyagent")
    model = tinyagent.Model("m", "http://127.0.0.1:9/v1")  # nothing listens on port 9
    m = await tinyagent.complete(model, CTX, transport=transport, max_retries=1)
    assert m.failure == tinyagent.Failure(FailureKind.CONNECTION, None, "connect")
    assert [r for r in caplog.records if r.getMessage().startswith("retry 1 of 1")]


async def test_ssl_cert_file_from_the_environment(
    ca: trustme.CA, ca_file: str, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    async with LocalServer([text_reply("from env")], ssl_context=server_context(ca)) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert m.text == "from env", m.error_message


async def test_a_missing_ca_bundle_is_a_clear_error(tmp_path: Path, transport: str) -> None:
    # Refused before any I/O on every transport (httpx made it an "internal_error").
    model = tinyagent.Model("m", "https://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match=r"ca_bundle .* is not a file"):
        await tinyagent.complete(
            model, CTX, transport=transport, ca_bundle=str(tmp_path / "nope.pem")
        )


async def test_a_bare_host_and_port_is_an_http_proxy(proxy: LocalProxy, transport: str) -> None:
    # As curl, requests and reqwest read one (httpx refused it: "Unknown scheme").
    bare = proxy.url.removeprefix("http://")
    async with LocalServer([text_reply("via a bare proxy")]) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport, proxy=bare)
    assert m.text == "via a bare proxy", m.error_message
    assert proxy.seen == [("POST", f"{server.base_url}/chat/completions")]


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("socks5://user:secret@127.0.0.1:1080", "proxy socks5://127.0.0.1:1080 is not "
         "supported: tinyagent speaks to http:// and https:// proxies (socks5:// is neither)"),
        ("http://127.0.0.1:port", "proxy http://127.0.0.1:port has no valid port"),
        ("http://", "proxy http:// names no host"),
    ],
)  # fmt: skip
async def test_a_proxy_no_transport_can_use_is_refused(
    given: str, said: str, transport: str
) -> None:
    model = tinyagent.Model("m", "https://api.example.test/v1")
    with pytest.raises(ValueError, match="proxy") as refused:
        await tinyagent.complete(model, CTX, transport=transport, proxy=given)
    assert str(refused.value) == said


async def test_a_proxy_from_the_environment_is_checked_too(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5h://127.0.0.1:1080")
    model = tinyagent.Model("m", "https://api.example.test/v1")
    with pytest.raises(ValueError, match=r"^the environment's proxy socks5h://127\.0\.0\.1:1080 "):
        await tinyagent.complete(model, CTX, transport=transport)


async def test_a_proxy_that_cannot_be_reached_is_named(transport: str) -> None:
    port = _free_port()
    model = tinyagent.Model("m", "https://api.example.test/v1")
    m = await tinyagent.complete(
        model, CTX, transport=transport, proxy=f"http://user:secret@127.0.0.1:{port}",
        max_retries=0,
    )  # fmt: skip
    assert m.failure == tinyagent.Failure(FailureKind.CONNECTION, None, "connect")
    assert m.error_message == (
        f"could not connect to the proxy http://127.0.0.1:{port} "
        "(for https://api.example.test/v1/chat/completions)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_http_proxy_from_the_environment(
    proxy: LocalProxy, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with LocalServer([text_reply("via proxy")]) as server:
        m = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert m.text == "via proxy", m.error_message
    assert proxy.seen == [("POST", f"{server.base_url}/chat/completions")]


async def test_no_proxy_and_an_explicit_empty_proxy_bypass_it(
    proxy: LocalProxy, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with LocalServer([text_reply("a"), text_reply("b")]) as server:
        a = await tinyagent.complete(server.model(), CTX, transport=transport, proxy="")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        b = await tinyagent.complete(server.model(), CTX, transport=transport)
    assert (a.text, b.text) == ("a", "b") and proxy.seen == []


async def test_https_through_a_connect_proxy_given_explicitly(
    ca: trustme.CA, ca_file: str, proxy: LocalProxy, transport: str
) -> None:
    async with LocalServer([text_reply("tunnelled")], ssl_context=server_context(ca)) as server:
        m = await tinyagent.complete(
            server.model(), CTX, transport=transport, proxy=proxy.url, ca_bundle=ca_file
        )
    assert m.text == "tunnelled", m.error_message
    assert proxy.seen == [("CONNECT", f"127.0.0.1:{server.port}")]


def test_the_environment_is_read_again_for_every_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The decision is cached by the variables' values, so a variable set, changed or
    cleared between two requests is seen by the second; the standard rules hold (the
    lowercase name wins, an empty one clears, CGI ignores HTTP_PROXY)."""
    from tinyagent.transports._network import network_for
    from tinyagent.wire import StreamOptions

    opts = StreamOptions()
    url = "http://example.test/v1/chat/completions"
    assert network_for(url, opts).proxy is None
    monkeypatch.setenv("HTTP_PROXY", "http://upper:1")
    assert network_for(url, opts).proxy == "http://upper:1"
    monkeypatch.setenv("http_proxy", "http://lower:2")
    assert network_for(url, opts).proxy == "http://lower:2"
    monkeypatch.setenv("http_proxy", "")  # an empty lowercase one clears the uppercase
    assert network_for(url, opts).proxy is None
    monkeypatch.delenv("http_proxy")
    monkeypatch.setenv("NO_PROXY", "example.test")
    assert network_for(url, opts).proxy is None
    assert network_for("http://other.test/v1", opts).proxy == "http://upper:1"
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    assert network_for(url, opts).proxy is None
    monkeypatch.setenv("ALL_PROXY", "http://all:3")
    assert network_for(url, opts).proxy == "http://all:3"
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert network_for(url, opts).ca_bundle == str(bundle)
    # A bundle is checked once: the transports read it once (into a client or an SSL
    # context) and keep what they read, so a bundle found once stays good.
    bundle.unlink()
    assert network_for(url, opts).ca_bundle == str(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="is not a file"):
        network_for(url, opts)


def _refusing_proxy(status_line: bytes) -> Callable[[anyio.abc.SocketStream], Awaitable[None]]:
    """A proxy that answers every request (a CONNECT, or a plain-HTTP one) with
    ``status_line`` and an empty body."""

    async def serve(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                buffer += await stream.receive()
            await stream.send(status_line + b"\r\ncontent-length: 0\r\n\r\n")
            await anyio.sleep(0.2)

    return serve


PROXY_AUTH = (
    "the proxy would not connect to https://api.example.test/v1/chat/completions without "
    "credentials (HTTP 407): give them in the proxy's URL, http://user:password@host:port"
)


@pytest.mark.parametrize(
    ("status_line", "failure", "words"),
    [
        (b"HTTP/1.1 407 Proxy Authentication Required",
         tinyagent.Failure(FailureKind.AUTHENTICATION, None, "proxy_auth"), PROXY_AUTH),
        (b"HTTP/1.1 403 Forbidden",
         tinyagent.Failure(FailureKind.CONNECTION, None, "proxy_refused"),
         "the proxy refused to connect to https://api.example.test/v1/chat/completions (its "
         "answer to CONNECT was no success)"),
    ],
    ids=["407", "403"],
)  # fmt: skip
async def test_a_proxy_that_refuses_the_tunnel_is_said_so(
    status_line: bytes, failure: tinyagent.Failure, words: str, transport: str
) -> None:
    async with serve_tcp(_refusing_proxy(status_line)) as port:
        model = tinyagent.Model("m", "https://api.example.test/v1")
        m = await tinyagent.complete(
            model, CTX, transport=transport, proxy=f"http://127.0.0.1:{port}"
        )
    assert m.failure == failure
    assert m.error_message == words


async def test_a_proxy_s_407_to_a_plain_http_request_is_authentication(transport: str) -> None:
    async with serve_tcp(_refusing_proxy(b"HTTP/1.1 407 Proxy Authentication Required")) as port:
        model = tinyagent.Model("m", "http://api.example.test/v1")
        m = await tinyagent.complete(
            model, CTX, transport=transport, proxy=f"http://127.0.0.1:{port}"
        )
    assert m.failure is not None
    assert (m.failure.kind, m.failure.status) == (FailureKind.AUTHENTICATION, 407)
