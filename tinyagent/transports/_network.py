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
import sys
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

import attrs

from ..wire import StreamOptions

__all__ = ["NetworkConfig", "checked_proxy", "network_for", "proxy_shown", "ssl_context"]


@attrs.frozen
class NetworkConfig:
    proxy: str | None = attrs.field(default=None, repr=False)  # may hold credentials
    ca_bundle: str | None = None


_SCHEMES = ("http", "https", "all", "no")


_PROXY_NAMES = tuple(
    name for scheme in _SCHEMES for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
)
_NAMES = (*_PROXY_NAMES, "REQUEST_METHOD", "SSL_CERT_FILE")


def _environment_reader() -> Callable[[], tuple[object, ...]]:
    """The variables in ``_NAMES`` as a key to decide by (decoded only when the decision
    is not cached). On POSIX the environment is a dict of bytes, read directly:
    ``os.environ.get`` encodes each name and decodes each value (~3 µs a name; a request
    needs eleven). It is read on every request, so a variable the program sets or clears
    is seen on the next one."""
    data = getattr(os.environ, "_data", None)
    if os.name != "posix" or not isinstance(data, dict):  # pragma: no cover - Windows
        return lambda: tuple(map(os.environ.get, _NAMES))
    encoding = sys.getfilesystemencoding()
    keys = tuple(name.encode(encoding, "surrogateescape") for name in _NAMES)
    return lambda: tuple(map(data.get, keys))


_read_environment = _environment_reader()


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode(sys.getfilesystemencoding(), "surrogateescape")
    return value if isinstance(value, str) else None


@functools.lru_cache(maxsize=256)
def _from_environment(url: str, environment: tuple[object, ...]) -> tuple[str | None, str | None]:
    """The proxy and the CA bundle the environment gives a request to ``url``, worked
    out once per URL and environment. The proxy: ``urllib.request.getproxies_environment``
    for the four variables that matter (the standard function walks the whole
    environment, twice: ~0.4 ms a request), then ``NO_PROXY``; same rules: the lowercase
    name wins (an empty one clears), and ``HTTP_PROXY`` is ignored in a CGI request
    (``REQUEST_METHOD`` set)."""
    values = {name: _text(v) for name, v in zip(_NAMES, environment, strict=True)}
    ca = values["SSL_CERT_FILE"] or None
    proxies: dict[str, str] = {}
    for scheme in _SCHEMES:
        lower = values[f"{scheme}_proxy"]
        value = lower if lower is not None else values[f"{scheme.upper()}_PROXY"]
        if value:
            proxies[scheme] = value
    if values["REQUEST_METHOD"] is not None:
        proxies.pop("http", None)
    if not proxies.keys() - {"no"}:
        return None, ca  # no proxy set: nothing for NO_PROXY to bypass
    parts = urlsplit(url)
    # NO_PROXY; the function exists on every platform but is missing from typeshed.
    if urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):  # type: ignore[attr-defined]
        return None, ca
    return proxies.get(parts.scheme) or proxies.get("all") or None, ca


def network_for(url: str, options: StreamOptions) -> NetworkConfig:
    """The proxy (``options.proxy``; ``""`` for none; else ``HTTPS_PROXY``/``HTTP_PROXY``/
    ``ALL_PROXY`` unless ``NO_PROXY`` covers the host) and the CA bundle
    (``options.ca_bundle``, else ``SSL_CERT_FILE``; else the default roots) of one
    request."""
    env_proxy, env_ca = _from_environment(url, _read_environment())
    proxy = options.proxy if options.proxy is not None else env_proxy
    if proxy:
        said = "proxy" if options.proxy is not None else "the environment's proxy"
        proxy = checked_proxy(proxy, said)
    ca = options.ca_bundle or env_ca
    if ca is not None and ca not in _KNOWN_FILES:
        if not os.path.isfile(ca):
            raise ValueError(f"ca_bundle {ca!r} is not a file (a PEM bundle of trusted CAs)")
        if len(_KNOWN_FILES) < 64:
            _KNOWN_FILES.add(ca)
    return NetworkConfig(proxy or None, ca)


@functools.lru_cache(maxsize=16)
def checked_proxy(value: str, said: str = "proxy") -> str:
    """A proxy URL both transports read alike: a bare ``host:port`` as ``http://`` (as
    curl, requests and reqwest read one; httpx refused it), and only ``http://`` or
    ``https://`` (httpx needs an extra for SOCKS, which the native core has not):
    another scheme, or no host or a bad port, is a ValueError saying so."""
    url = value if "://" in value else f"http://{value}"
    parts = urlsplit(url)
    shown = proxy_shown(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(
            f"{said} {shown} is not supported: tinyagent speaks to http:// and https:// "
            f"proxies ({parts.scheme}:// is neither)"
        )
    try:
        parts.port  # noqa: B018  # raises for a port that is no number
    except ValueError:
        raise ValueError(f"{said} {shown} has no valid port") from None
    if not parts.hostname:
        raise ValueError(f"{said} {shown} names no host")
    return url


def proxy_shown(url: str) -> str:
    """A proxy URL as it may be shown: its credentials left out."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}"


# CA bundles found to be files. Each transport reads a bundle once, when it builds its
# client or SSL context for it, and keeps what it read; so the check is made once a
# bundle too, not once a request (a ``stat`` each, ~5 µs).
_KNOWN_FILES: set[str] = set()


@functools.lru_cache(maxsize=8)
def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """One verified context per CA bundle (building one costs ~25 ms; contexts are not
    tied to an event loop). None: the default roots (certifi's, as httpx uses)."""
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=ca_bundle)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
