"""The httpx transport: it moves bytes from the response into the sans-IO cores.

Everything protocol-specific lives in the SSE decoder and the chunk parser; this module
only opens the request (with retries), reads, maps transport failures to error events,
and closes the response deterministically, even when cancelled.
"""

from __future__ import annotations

import functools
import math
import ssl
from collections.abc import AsyncIterator

import anyio
import httpx

from ..messages import AssistantMessage, Model, StartEvent, StopReason, StreamEvent
from ..providers import ByteParser, Provider
from ..wire import PreparedRequest, StreamOptions, merge_headers
from ._default import default_session
from ._errors import answer_error, transport_error
from ._network import NetworkConfig, network_for
from ._pool import Slot
from ._whole import is_whole_body, read_whole_body

__all__ = ["HttpxSource", "describe_transport_error"]

_ERROR_BODY_LIMIT = 64 * 1024


@functools.lru_cache(maxsize=64)
def _url(url: str) -> httpx.URL:
    """The request URL, parsed once per URL (httpx parses a string on every request,
    ~11 µs; a parsed URL it takes as it is)."""
    return httpx.URL(url)


_DRAIN_LIMIT = 64 * 1024
_DRAIN_SECONDS = 1.0


_NO_ANSWER = "Server disconnected without sending a response."
# The largest response head read, the same on every transport: hyper (the native core)
# reads 100 header lines at most, h11 about 100 KiB (more or less, by how the head
# arrives); each side also checks the other's bound, and the size by one formula.
MAX_HEADER_LINES = 100
MAX_HEAD_BYTES = 100 * 1024


def _refused_certificate(exc: BaseException) -> bool:
    """Whether ssl refused the server's certificate, under httpx's and httpcore's
    ``ConnectError``s."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain is short; a loop in one is not followed
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _oversized_head(response: httpx.Response) -> str | None:
    """What is too large in a response head, or None (as ``head_size`` in the core)."""
    raw = response.headers.raw
    if len(raw) > MAX_HEADER_LINES:
        return f"a response head of over {MAX_HEADER_LINES} header lines"
    if sum(len(k) + len(v) + 4 for k, v in raw) + 17 > MAX_HEAD_BYTES:
        return f"a response head over {MAX_HEAD_BYTES} bytes"
    return None


# A whole body that does not decode by its content-encoding, in these words on every
# transport (the native core's ``UNDECODABLE`` says the same).
UNDECODABLE = b"(a body that does not decode by its content-encoding)"

# One table maps httpx's failures to the kinds every transport reports.
_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.ConnectTimeout, "connect_timeout"),
    (httpx.ReadTimeout, "read_timeout"),
    (httpx.ConnectError, "connect"),
    (httpx.RemoteProtocolError, "closed"),
    (httpx.ReadError, "closed"),
    (httpx.WriteError, "closed"),  # before any response, so no_response (below)
    (httpx.DecodingError, "decode"),
)


def describe_transport_error(
    exc: BaseException,
    options: StreamOptions,
    url: str,
    *,
    answered: bool = True,
    proxy: str | None = None,
) -> BaseException:
    """``answered``: whether the server had begun its response (a connection that
    closes before that is ``no_response``, after it ``closed``); ``proxy``: the one the
    request went through, if any (a session's; a caller's own client says nothing)."""
    kind, detail = "other", f"{type(exc).__name__}: {exc}"
    for cls, name in _KINDS:
        if isinstance(exc, cls):
            kind = name
            detail = "" if name.endswith("timeout") else str(exc)
            break
    if kind == "connect" and _refused_certificate(exc):
        kind = "tls"
    if isinstance(exc, httpx.ProxyError):
        # httpcore's words: the CONNECT answer's status line ("407 Proxy Authentication
        # Required"); the native core tells a 407 from the rest, and so do these.
        kind = "proxy_auth" if str(exc).startswith("407") else "proxy_refused"
        detail = str(exc)
    if kind == "closed" and not answered:
        # httpcore's words for a server that closed with no answer; any other protocol
        # error before a response is an answer that is not HTTP (h11 could not read it).
        silent = not isinstance(exc, httpx.RemoteProtocolError) or str(exc) == _NO_ANSWER
        kind = "no_response" if silent else "bad_response"
    err = transport_error(kind, url, detail, options.connect_timeout, options.read_timeout, proxy)
    err.__cause__ = exc
    return err


class HttpxSource:
    """Streams one request through httpx; yields batches of stream events."""

    def __init__(
        self,
        model: Model,
        provider: Provider,
        request: PreparedRequest,
        options: StreamOptions,
        parser: ByteParser,
        network: NetworkConfig | None = None,
    ) -> None:
        self._model = model
        self._provider = provider
        self._request = request
        self._options = options
        self._parser = parser
        # The proxy and CAs, decided before any I/O (``make_source``); else here.
        self._network = network
        self._client: httpx.AsyncClient | None = options.client
        self._slot: Slot | None = None  # a connection of a session's pool, while held
        self._response: httpx.Response | None = None
        self._bytes: AsyncIterator[bytes] | None = None
        self._started = False

    @property
    def message(self) -> AssistantMessage | None:
        return self._parser.message

    def _proxy(self) -> str | None:
        """The proxy a session's call went through (a caller's own client: not ours to
        say, so none)."""
        if self._client is not None or self._network is None:
            return None
        return self._network.proxy

    def _timeout(self) -> httpx.Timeout:
        o = self._options
        return httpx.Timeout(
            connect=o.connect_timeout,
            read=o.read_timeout,
            write=o.read_timeout,
            # No timeout for a free connection: a session's pool hands a call a
            # connection only when one is free (the call waits for that as long as its
            # caller lets it), and a client of one's own is one's own to size.
            pool=None,
        )

    async def next_batch(self) -> list[StreamEvent]:
        """The next events; an empty list only while more may come. After the final
        (done/error) event, ``message`` is set and no more batches follow."""
        if not self._started:
            self._started = True
            return await self._open()
        assert self._bytes is not None
        parser = self._parser
        try:
            chunk = await self._bytes.__anext__()
        except StopAsyncIteration:
            return parser.end_of_stream()
        except httpx.HTTPError as exc:
            err = describe_transport_error(
                exc, self._options, self._request.url, proxy=self._proxy()
            )
            return parser.fail(str(err), error=err)
        # No await once the final events exist: a cancellation there would lose them.
        # The tail after the last event is read in aclose().
        return parser.feed(chunk)

    async def _drain(self) -> None:
        """Read the little that follows the last event (the chunked terminator) so the
        connection goes back to the pool and httpx's iterators end normally. A server
        that keeps talking, or stays open, gets its connection closed instead."""
        it = self._bytes
        if it is None:
            return
        self._bytes = None
        extra = 0
        with anyio.move_on_after(_DRAIN_SECONDS):
            try:
                async for piece in it:
                    extra += len(piece)
                    if extra > _DRAIN_LIMIT:
                        break
            except httpx.HTTPError:
                pass  # the message is complete; a broken tail does not change it
        await self._close_response()

    async def _open(self) -> list[StreamEvent]:
        """One attempt; a failure is reported as data (retries are decided above)."""
        req = self._request
        parser = self._parser
        client = self._client
        try:
            if client is not None:  # the caller's own client, with whatever it adds
                response = await client.send(
                    client.build_request(
                        "POST",
                        _url(req.url),
                        headers=req.headers,
                        content=req.body,
                        timeout=self._timeout(),
                    ),
                    stream=True,
                )
            else:
                # No client given: the run's session, else this event loop's shared one
                # (decided here, in the loop: the source may be made outside of it); a
                # connection of its pool is held until the response is closed.
                o = self._options
                session = o.session if o.session is not None else default_session()
                network = self._network or network_for(req.url, o)
                self._network = network
                self._slot = await session.httpx_pool(network).checkout()
                response = await self._send(self._slot)
        except httpx.HTTPError as exc:
            self._release()
            err = describe_transport_error(
                exc, self._options, req.url, answered=False, proxy=self._proxy()
            )
            return parser.fail(str(err), error=err)
        except BaseException:
            self._release()  # cancelled while sending: the connection is httpx's to close
            raise
        self._response = response
        oversized = _oversized_head(response)
        if oversized is not None:
            await self._close_response()
            o = self._options
            err = transport_error(
                "bad_response", req.url, oversized, o.connect_timeout, o.read_timeout
            )
            return parser.fail(str(err), error=err)
        if response.status_code >= 300:  # an error, or a redirect (never followed)
            body = await self._read_error_body(response)
            await self._close_response()
            exc2 = answer_error(
                self._provider, self._model, req, response.status_code, body, response.headers
            )
            return parser.fail(exc2.message, error=exc2)
        started = StartEvent(self._model.id, self._model.provider_name)
        content_type = response.headers.get("content-type", "")
        status = response.status_code
        if is_whole_body(status, content_type):
            body = req.redact(await self._read_body(response, self._options.max_line_bytes))
            await self._close_response()
            whole = read_whole_body(parser, self._provider, self._model, status, content_type, body)
            return [started, *whole]
        self._bytes = response.aiter_bytes()
        return [started]

    async def _send(self, slot: Slot) -> httpx.Response:
        """The request straight through a session's transport. ``client.send`` would
        add its default headers (added here), then auth, redirects, cookies and hooks,
        which a session's clients do not use: ~0.1 ms a call."""
        req = self._request
        transport: httpx.AsyncBaseTransport = slot.transport
        # The client's defaults, under the call's own (as httpx merges them).
        headers = merge_headers(slot.headers, req.headers)
        timeout = self._timeout().as_dict()
        request = httpx.Request(
            "POST",
            _url(req.url),
            headers=headers,
            content=req.body,
            extensions={"timeout": timeout},
        )
        response = await transport.handle_async_request(request)
        response.request = request
        return response

    async def _read_error_body(self, response: httpx.Response) -> bytes:
        return await self._read_body(response, _ERROR_BODY_LIMIT)

    async def _read_body(self, response: httpx.Response, limit: int) -> bytes:
        """The body, or its first ``limit`` bytes (what arrived, if reading it broke)."""
        parts: list[bytes] = []
        size = 0
        try:
            async for piece in response.aiter_bytes():
                parts.append(piece)
                size += len(piece)
                if size >= limit:
                    break
        except httpx.DecodingError:
            return UNDECODABLE  # what it decoded to before is no part of what was sent
        except httpx.HTTPError:
            pass  # keep what arrived: it says what the server sent
        return b"".join(parts)[:limit]

    def abort(
        self, message: str, stop_reason: StopReason, error: BaseException | None = None
    ) -> list[StreamEvent]:
        return self._parser.fail(message, stop_reason=stop_reason, error=error)

    def _release(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot.release()

    async def _close_response(self) -> None:
        response, self._response = self._response, None
        self._bytes = None
        try:
            if response is not None:
                await response.aclose()
        finally:
            self._release()

    async def aclose(self) -> None:
        """Close the response. Shielded, so that a cancelled caller still closes its
        connection instead of leaking it (the client belongs to a session). After a
        complete message the tail is drained first, so the connection goes back to the
        pool — unless the caller is cancelled, which must not wait for a server."""
        if self._response is None:
            self._release()  # never sent (or already closed): give the slot back
            return  # already drained and closed: nothing to shield
        cancelled = anyio.current_effective_deadline() == -math.inf
        drain = self._parser.message is not None and not cancelled
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            if drain:
                await self._drain()  # bounded by _DRAIN_SECONDS; closes the response
            await self._close_response()
