"""Which proxy and which trusted CAs a request uses, decided once for every transport.

httpx would read ``HTTPS_PROXY``/``NO_PROXY`` and ``SSL_CERT_FILE`` by itself and the
native core (reqwest) by other rules, so the decision is made here, from the call's
options first and the environment second, and both transports are told exactly what to
do: behind a corporate proxy or a private CA, every transport works or none does.
"""

from __future__ import annotations

import functools
import os
import ssl
import urllib.request
from urllib.parse import urlsplit

import attrs

from ..wire import StreamOptions

__all__ = ["NetworkConfig", "network_for", "ssl_context"]


@attrs.frozen
class NetworkConfig:
    proxy: str | None = attrs.field(default=None, repr=False)  # may hold credentials
    ca_bundle: str | None = None


_SCHEMES = ("http", "https", "all", "no")


def _env_proxies() -> dict[str, str]:
    """``urllib.request.getproxies_environment()`` for the four variables that matter,
    read directly: the standard function walks the whole environment, twice, which cost
    ~0.4 ms per request. Same rules: the lowercase name wins (an empty one clears), and
    ``HTTP_PROXY`` is ignored in a CGI request (``REQUEST_METHOD`` set)."""
    env = os.environ
    out: dict[str, str] = {}
    for scheme in _SCHEMES:
        upper = env.get(f"{scheme.upper()}_PROXY")
        lower = env.get(f"{scheme}_proxy")
        value = lower if lower is not None else upper
        if value:
            out[scheme] = value
    if "REQUEST_METHOD" in env:
        out.pop("http", None)
    return out


def _env_proxy(url: str) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    proxies = _env_proxies()
    # NO_PROXY; the function exists on every platform but is missing from typeshed.
    if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme) or proxies.get("all") or None


def network_for(url: str, options: StreamOptions) -> NetworkConfig:
    """The proxy (``options.proxy``; ``""`` for none; else ``HTTPS_PROXY``/``HTTP_PROXY``/
    ``ALL_PROXY`` unless ``NO_PROXY`` covers the host) and the CA bundle
    (``options.ca_bundle``, else ``SSL_CERT_FILE``; else the default roots) of one
    request."""
    proxy = options.proxy if options.proxy is not None else _env_proxy(url)
    ca = options.ca_bundle or os.environ.get("SSL_CERT_FILE") or None
    if ca is not None and not os.path.isfile(ca):
        raise ValueError(f"ca_bundle {ca!r} is not a file (a PEM bundle of trusted CAs)")
    return NetworkConfig(proxy or None, ca)


@functools.lru_cache(maxsize=8)
def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """One verified context per CA bundle (building one costs ~25 ms; contexts are not
    tied to an event loop). None: the default roots (certifi's, as httpx uses)."""
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=ca_bundle)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
