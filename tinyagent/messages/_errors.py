"""The exception hierarchy.

Provider failures are *data* (an assistant message with ``stop_reason="error"``), so
these exceptions are raised only for programming errors, for the agent's own misuse
checks, and inside the stream machinery before they are turned into data. Each one says
what happened and, where it can, what to do.
"""

from __future__ import annotations

__all__ = [
    "AgentBusyError",
    "CallbackError",
    "NoModelError",
    "OutputError",
    "OutputValidationError",
    "ProviderError",
    "ReplyError",
    "StreamFormatError",
    "TinyAgentError",
    "ToolError",
    "TransportError",
]

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._records import AssistantMessage, Failure


class TinyAgentError(Exception):
    """Base of every error raised by tinyagent."""


class StreamFormatError(TinyAgentError, ValueError):
    """The response stream broke its format: an over-long line, malformed JSON, a
    protocol violation. The message names which, with an excerpt of the input."""


class ProviderError(TinyAgentError):
    """A provider answered with an error (HTTP status or an error object in the stream).

    Carries ``status`` (None for in-stream errors), ``provider``, ``model`` and a
    bounded excerpt of the body. It never contains the API key.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str = "",
        model: str = "",
        body: str = "",
        failure: Failure | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.provider = provider
        self.model = model
        self.body = body
        self.failure = failure


class TransportError(TinyAgentError, OSError):
    """The connection failed: no connection, a timeout, a stream cut off mid-way.

    The same type on every transport (httpx or native), with ``kind`` saying which
    (``connect``, ``connect_timeout``, ``read_timeout``, ``no_response``, ``closed``,
    ``tls``, ``proxy_auth``, ``proxy_refused``, ``bad_response``, ``decode``, ``local``,
    ``other``) and ``failure`` the typed description the failed message carries too.
    ``detail`` is what the transport library said (it differs between transports; the
    message does not).
    """

    def __init__(
        self, message: str, *, kind: str, detail: str = "", failure: Failure | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.detail = detail
        self.failure = failure

    def __str__(self) -> str:
        return self.message


class ToolError(TinyAgentError):
    """Raise from a tool to fail the call with exactly this message for the model."""


class AgentBusyError(TinyAgentError, RuntimeError):
    """The agent is already running; wait for it, ``steer()`` it or ``follow_up()``."""


class NoModelError(TinyAgentError, RuntimeError):
    """The agent has no model to call: pass ``model=`` or call ``set_model()``. (A
    ``RuntimeError`` too, as the seed's was.)"""


class CallbackError(TinyAgentError):
    """Your own code, called by a run, raised: a listener or a hook (``before_turn``,
    ``before_tool_call``…). Tools are not callbacks: their errors become error results.

    The run was closed out as an abort is (the partial reply kept, every tool call
    answered, ``agent_end`` delivered with ``stop_reason="error"``), then this is raised
    from ``prompt()`` or from the ``stream()`` block, the same on every backend.
    ``callback`` names the callback (``listener`` or the hook's option name), ``event``
    the event kind a listener was given, and ``__cause__`` is what your code raised.
    """

    def __init__(self, message: str, *, callback: str, event: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.callback = callback
        self.event = event


class ReplyError(TinyAgentError, RuntimeError):
    """The agent's reply failed, so there is no answer to hand back as text
    (``prompt_text``): ``reply`` is the failed :class:`AssistantMessage` (kept in the
    transcript, as ``prompt()`` keeps it), ``failure`` its typed failure. The message is
    the reply's ``error_message``. A ``RuntimeError`` too, as the seed's "no assistant
    message" was."""

    def __init__(self, reply: AssistantMessage) -> None:
        super().__init__(reply.error_message or f"the reply failed ({reply.stop_reason})")
        self.reply = reply
        self.failure = reply.failure


class OutputError(TinyAgentError):
    """No structured answer: the run failed or was aborted before the model gave one.

    ``raw`` is the last raw answer text (None if there was none), ``problems`` what was
    wrong with it, ``attempts`` how many answers were judged, ``stop_reason`` how the last
    run ended."""

    def __init__(
        self,
        message: str,
        *,
        raw: str | None = None,
        problems: tuple[str, ...] = (),
        attempts: int = 0,
        stop_reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.problems = problems
        self.attempts = attempts
        self.stop_reason = stop_reason


class OutputValidationError(OutputError):
    """The model's answers did not match the output type, ``output_retries`` times over;
    ``raw`` is its last answer and ``problems`` the last validation errors."""
