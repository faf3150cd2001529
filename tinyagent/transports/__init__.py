"""Transports: they move bytes between a provider's request and its parser.

Three of them give the same events for the same bytes: ``native`` (the whole stream in
Rust on tokio), ``httpx+native`` (httpx moves the bytes, the Rust parser parses) and
``httpx`` (pure Python). Retries and failure classification are decided once, above
them (:mod:`._retry`), so the same failure reads the same on each.

It imports ``providers``, ``wire``, ``messages`` and ``_util`` (and httpx, and the Rust
core ``_native``); ``call`` is its only user inside tinyagent.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from .._util.log import bodies_logged, logger
from ..messages import Context, Model
from ..providers import ByteParser, framing_of, prepare_request, provider_for
from ..wire import PureByteParser, StreamOptions
from ._connections import Connections
from ._gate import RateGate
from ._native_bridge import NativeByteParser, NativeSource, native_available
from ._network import network_for
from ._refused import RefusedSource, missing_key
from ._retry import EventSource, RetryingSource, retry_delay

__all__ = [
    "TRANSPORTS",
    "Connections",
    "EventSource",
    "RateGate",
    "make_byte_parser",
    "make_source",
    "native_available",
    "resolve_transport",
    "retry_delay",
]

TRANSPORTS = ("native", "httpx+native", "httpx")


def resolve_transport(transport: str | None, client: object = None) -> str:
    """The transport a call will use: ``native`` when the extension is built, else
    ``httpx`` (the pure path, always there). Passing an httpx ``client`` means httpx."""
    if transport is None and client is not None:
        return "httpx"
    if transport is None:
        return "native" if native_available() else "httpx"
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}: choose one of {', '.join(TRANSPORTS)}")
    return transport


def make_source(
    model: Model, context: Context, options: StreamOptions, *, deltas: bool = True
) -> EventSource:
    """The event source of one call: the model's provider on the chosen transport,
    with retries. Raises (before any I/O) only for what no attempt could get past: a
    programming error, or a proxy or CA bundle that cannot be used (a ValueError).
    ``deltas=False``: the caller reads only the final message, so a transport that can
    leave the delta events out does (the native one: a call's work then does not grow
    with its chunks); every block's start and end still come."""
    provider = provider_for(model)
    transport = resolve_transport(options.transport, options.client)
    request = prepare_request(model, context, options)
    label = f"POST {request.url} model={model.id} api={provider.api} transport={transport}"
    missing = missing_key(model, options, request)
    if missing is not None:  # found before any request: the reply says what to set
        parser = PureByteParser(
            provider.payload_parser(model, options), options.max_line_bytes, framing_of(provider)
        )
        return RefusedSource(parser, missing)

    # The proxy and the CAs, decided (and a bad one refused) before any I/O, the same on
    # every transport; a caller's own httpx client has its own.
    network = None if options.client is not None else network_for(request.url, options)

    def attempt() -> EventSource:
        logger.debug("request %s", label)
        if logger.isEnabledFor(logging.DEBUG) and bodies_logged():
            logger.debug("request body %s", request.body.decode("utf-8", "replace"))
        if transport == "native":
            return NativeSource(model, provider, request, options, deltas=deltas, network=network)
        from ._httpx import HttpxSource

        if transport == "httpx+native":
            native = NativeByteParser(model, provider, options)
            return HttpxSource(model, provider, request, options, native, network)
        parser = PureByteParser(
            provider.payload_parser(model, options), options.max_line_bytes, framing_of(provider)
        )
        return HttpxSource(model, provider, request, options, parser, network)

    # What a rate gate is told an attempt will cost: the prompt (about four bytes a
    # token of its body) and the reply's limit, corrected by the usage that comes back.
    tokens = len(request.body) // 4 + (options.max_tokens or model.max_tokens or 0)
    redact = request.redact_text if request.has_secrets else None
    return RetryingSource(attempt, options.max_retries, label, options.rate_gate, tokens, redact)


def make_byte_parser(model: Model, *, native: bool = False, **options: object) -> ByteParser:
    """A parser of the model's wire format, bytes in, events out, with no transport:
    the pure one, or (``native=True``) the Rust one. For tests and benchmarks that
    drive the sans-IO cores directly."""
    opts = StreamOptions(**options)  # type: ignore[arg-type]
    provider = provider_for(model)
    if native:
        return NativeByteParser(model, provider, opts)
    return PureByteParser(
        provider.payload_parser(model, opts), opts.max_line_bytes, framing_of(provider)
    )


def __getattr__(name: str) -> Any:
    if name == "Session":  # the old name, kept for code written against 0.1
        warnings.warn(
            "tinyagent.transports.Session is now tinyagent.transports.Connections "
            "('Session' means a transcript store, tinyagent.sessions.Session)",
            DeprecationWarning,
            stacklevel=2,
        )
        return Connections
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
