"""Bedrock's two ways in: an API key (``Authorization: Bearer``, from
``AWS_BEARER_TOKEN_BEDROCK``) or AWS Signature Version 4 over the request, with
credentials from the standard AWS chain (environment, profile, SSO, role…).

SigV4 is botocore's (the ``bedrock`` extra), never written here: its credential
resolution and its signer, over the exact URL, headers and body the transport sends.
The credentials object is resolved once per process (it refreshes itself when a role's
session expires).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["aws_region", "forget_credentials", "sigv4_headers"]

_lock = threading.Lock()
_credentials: list[Any] = []  # [credentials or None], once resolved


def aws_region(base_url: str) -> str:
    """The region a Bedrock endpoint is in (``bedrock-runtime.{region}.amazonaws.com``),
    else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else ``us-east-1``."""
    host = urlsplit(base_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0].startswith("bedrock-runtime") and parts[2] == "amazonaws":
        return parts[1]
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _resolved() -> Any:
    with _lock:
        if not _credentials:
            try:
                import botocore.session
            except ImportError:  # no extra: only a bearer key can be used
                _credentials.append(None)
            else:
                _credentials.append(botocore.session.get_session().get_credentials())
        return _credentials[0]


def sigv4_headers(
    url: str, headers: Mapping[str, str], body: bytes, region: str
) -> dict[str, str] | None:
    """``headers`` with SigV4's added (``authorization``, ``x-amz-date``, and
    ``x-amz-security-token`` for temporary credentials), or None without credentials."""
    credentials = _resolved()
    if credentials is None:
        return None
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials.get_frozen_credentials(), "bedrock", region).add_auth(request)
    return {k.lower(): str(v) for k, v in request.headers.items()}


def forget_credentials() -> None:
    """Resolve the credentials again at the next request (tests; a changed profile)."""
    with _lock:
        _credentials.clear()
