"""The ``tinyagent`` logger: standard :mod:`logging`, silent by default.

``TINYAGENT_LOG=debug`` (or ``info``) sends it to stderr; or configure the
``"tinyagent"`` logger as any other. ``debug`` has each request (method, URL, model,
wire format, transport); ``info`` has what changes a run's course: retries with their
wait and reason (rate-limit pauses included), tool failures and timeouts, runs that end
aborted, past their deadline or failed. A key or a header is never logged; request
bodies only with ``TINYAGENT_LOG_BODIES=1``.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["bodies_logged", "logger"]

logger = logging.getLogger("tinyagent")
logger.addHandler(logging.NullHandler())

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def bodies_logged() -> bool:
    return os.environ.get("TINYAGENT_LOG_BODIES", "") not in ("", "0")


def _configure_from_environment() -> None:
    value = os.environ.get("TINYAGENT_LOG", "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        print(
            f"tinyagent: TINYAGENT_LOG={value!r} is not one of debug, info, warning; ignored",
            file=sys.stderr,
        )
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s tinyagent %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


_configure_from_environment()
