"""Who is running on a session id: a lease, so that one agent's load never answers
another's call that is still running.

An agent holds its session's lease while it runs (and while it loads). A load repairs
calls a run left open (answers them as aborted) only under the lease, so only once the
run that made them is gone — finished, or its process dead. A second agent that tries
to run on an id another live agent is running on is refused, naming the holder: never
two results for one call.

An owner is ``host:pid:token``. A holder on this host whose process is gone has
released the lease, whatever the store says; one on another host is taken as alive
(``release_lease()`` on the session breaks it, for a machine that died).
"""

from __future__ import annotations

import os
import socket
import uuid

from ..messages import TinyAgentError

__all__ = ["SessionInUseError", "new_owner", "owner_alive", "owner_words"]

_HOST = socket.gethostname()


class SessionInUseError(TinyAgentError):
    """Another live agent is running on this session id."""


def new_owner() -> str:
    """A fresh owner name for one agent's tie to its session."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str) -> bool:
    """Whether the owner's process may still run (on this host: it exists)."""
    host, _, rest = owner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != _HOST:
        return True  # cannot tell: taken as alive
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ValueError:
        return False
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def owner_words(owner: str) -> str:
    host, _, rest = owner.partition(":")
    pid, _, _ = rest.partition(":")
    here = "this process" if host == _HOST and pid == str(os.getpid()) else f"pid {pid} on {host}"
    return f"another running agent ({here})"
