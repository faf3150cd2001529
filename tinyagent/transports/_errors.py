"""One table maps every transport's low-level failures to the same error kinds, so the
same failure reads the same on httpx and on the native core."""

from __future__ import annotations

from .._util.wording import transport_failure
from ..messages import Failure, FailureKind, TransportError

__all__ = ["transport_error"]


_TRANSPORT_KINDS = {
    "connect_timeout": FailureKind.TIMEOUT,
    "read_timeout": FailureKind.TIMEOUT,
    "connect": FailureKind.CONNECTION,
    "no_response": FailureKind.CONNECTION,
    "closed": FailureKind.CONNECTION,
    "local": FailureKind.CONNECTION,
    "other": FailureKind.CONNECTION,
}


def transport_error(
    kind: str, url: str, detail: str, connect_timeout: float, read_timeout: float
) -> TransportError:
    """A transport failure as the one exception type every transport reports."""
    text = transport_failure(kind, url, detail, connect_timeout, read_timeout)
    failure = Failure(_TRANSPORT_KINDS[kind], None, kind)
    return TransportError(text, kind=kind, detail=detail, failure=failure)
