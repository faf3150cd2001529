"""One structured-output request: how it is asked for, and how each run's answer is judged.

Two ways to ask. ``native``: the provider's JSON-schema response format, so the reply's
text is the answer. ``tool``: a ``final_answer`` tool whose arguments are the answer,
for providers without a response format (Anthropic) or servers that ignore it; its
call ends the run. An answer that is not the asked-for type goes back to the model with
the validation errors (as the tool's error result, or as a new user message) until
``retries`` corrections have been asked for; then :class:`OutputValidationError` carries
the last raw answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

import attrs

from .._util.json import dumps
from ..messages import (
    AssistantMessage,
    Message,
    Model,
    OutputError,
    OutputValidationError,
    StopReason,
    StreamEvent,
    TextDeltaEvent,
    TextStartEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallStartEvent,
    ToolError,
    UserMessage,
)
from ..providers import provider_for, takes_response_format
from ..tools import Tool, ToolResult, ToolUpdate
from ._spec import OutputInvalid, OutputSpec

__all__ = ["FINAL_ANSWER_TOOL", "OutputAttempts", "OutputMode", "check_output_mode"]

T = TypeVar("T")
OutputMode = Literal["auto", "native", "tool"]
FINAL_ANSWER_TOOL = "final_answer"
_MODES = ("auto", "native", "tool")
_UNSET: Any = object()


def check_output_mode(mode: str) -> OutputMode:
    if mode not in _MODES:
        raise ValueError(f"output_mode must be one of {', '.join(_MODES)}, got {mode!r}")
    return mode  # type: ignore[return-value]


def resolve_mode(mode: OutputMode, model: Model) -> Literal["native", "tool"]:
    """``auto``: the response format where the wire format has one, else the tool."""
    if not takes_response_format(model):
        if mode == "native":
            raise OutputError(
                f"output_mode='native': response_format is not sent to {provider_for(model).api}; "
                "use output_mode='tool' (a final-answer tool, what 'auto' picks there)"
            )
        return "tool"
    return "native" if mode == "auto" else mode


def _bullets(problems: Sequence[str]) -> str:
    return "\n".join(f"- {p}" for p in problems)


@attrs.frozen
class _AnswerTool(Tool):
    """The final-answer tool: the model sees the answer's schema, but the arguments are
    judged by the attempt (not rejected by the runner) so that every wrong answer is
    counted against the retries."""

    def validate(self, args: Mapping[str, Any]) -> list[str]:
        return []

    judge: OutputAttempts[Any] | None = attrs.field(
        default=None, kw_only=True, eq=False, repr=False
    )

    async def unusable_arguments(self, call: ToolCall, problem: str) -> ToolResult | None:
        # Arguments that do not even parse are a wrong answer too: counted as one.
        return self.judge.unreadable(call, problem) if self.judge is not None else None


class OutputAttempts(Generic[T]):
    """The state of one ``prompt_output``: mode, failures so far, the answer once in."""

    def __init__(self, spec: OutputSpec[T], mode: OutputMode, model: Model, retries: int) -> None:
        self.spec = spec
        self.mode = resolve_mode(mode, model)
        self.retries = retries
        self.failures = 0
        self.attempts = 0
        self.raw: str | None = None
        self.problems: tuple[str, ...] = ()
        self._value: Any = _UNSET
        self._given_up = False
        self._answer_index: int | None = None  # the streaming final-answer call's block

    # --- what a run is given ----------------------------------------------------------

    def run_options(self) -> dict[str, Any]:
        """What the agent adds to each run of this request."""
        if self.mode == "native":
            return {"response_format": self.spec.response_format()}
        return {"extra_tools": (self._tool(),)}

    def _tool(self) -> Tool:
        spec = self.spec
        description = (
            "Give your final answer by calling this tool; its arguments are the answer "
            f"({spec.name}). Call it once, when you are done."
        )
        return _AnswerTool(FINAL_ANSWER_TOOL, description, spec.schema, self._execute, judge=self)

    async def _execute(self, call_id: str, args: dict[str, Any], update: ToolUpdate) -> ToolResult:
        if self._value is not _UNSET or self._given_up:
            return ToolResult("The final answer was already given.", terminate=True)
        self.attempts += 1
        self.raw = dumps(args).decode()
        try:
            value = self.spec.check(args)
        except OutputInvalid as exc:
            result = self._wrong(tuple(exc.problems))
            if result.terminate:
                return result
            raise ToolError(self._correction(tuple(exc.problems))) from None
        self._value = value
        self.problems = ()
        return ToolResult("Answer received.", details=value, terminate=True)

    def unreadable(self, call: ToolCall, problem: str) -> ToolResult:
        """A final-answer call whose arguments could not be read: one wrong answer."""
        if self._value is not _UNSET or self._given_up:
            return ToolResult("The final answer was already given.", terminate=True)
        self.attempts += 1
        self.raw = call.raw_arguments if call.raw_arguments is not None else None
        return self._wrong((problem,))

    def _wrong(self, problems: tuple[str, ...]) -> ToolResult:
        """Count a wrong answer: the error result that asks for another, or (no retries
        left) the one that ends the run."""
        self.problems = problems
        self.failures += 1
        if self.failures > self.retries:
            self._given_up = True
            return ToolResult(
                "The answer does not match the schema; giving up:\n" + _bullets(problems),
                terminate=True,
            )
        return ToolResult(self._correction(problems))

    @staticmethod
    def _correction(problems: tuple[str, ...]) -> str:
        return (
            "The answer does not match the schema:\n"
            + _bullets(problems)
            + f"\nCall {FINAL_ANSWER_TOOL} again with a corrected answer."
        )

    # --- what the stream shows --------------------------------------------------------

    def opens_answer(self, event: StreamEvent) -> bool:
        """Whether ``event`` starts a new answer document (a reply's text, or a call of
        the final-answer tool), so the partial parser starts over."""
        if self.mode == "native":
            return type(event) is TextStartEvent
        if type(event) is ToolCallStartEvent:
            if event.name == FINAL_ANSWER_TOOL:
                self._answer_index = event.index
                return True
            if event.index == self._answer_index:
                self._answer_index = None
        return False

    def fragment(self, event: StreamEvent) -> str | None:
        """The answer's JSON text in ``event``, if it carries some."""
        if self.mode == "native":
            return event.delta if type(event) is TextDeltaEvent else None
        if type(event) is ToolCallDeltaEvent and event.index == self._answer_index:
            return event.delta
        return None

    # --- judging a run ----------------------------------------------------------------

    @property
    def value(self) -> T:
        if self._value is _UNSET:
            raise OutputError("no structured answer yet")
        return self._value  # type: ignore[no-any-return]

    def judge(self, new: Sequence[Message]) -> UserMessage | None:
        """After a run: None when the answer is in, else the message that asks for a
        correction. Raises :class:`OutputError` when the run failed and
        :class:`OutputValidationError` when no retries are left."""
        if self._value is not _UNSET:
            return None
        last = next((m for m in reversed(new) if isinstance(m, AssistantMessage)), None)
        if self._given_up:
            raise self._give_up(last)
        if last is None or last.stop_reason in (StopReason.ERROR, StopReason.ABORTED):
            why = last.error_message if last is not None else "the run added no reply"
            reason = last.stop_reason.value if last is not None else None
            raise OutputError(
                f"no structured answer: the run ended with {reason or 'no reply'} ({why})",
                raw=self.raw,
                problems=self.problems,
                attempts=self.attempts,
                stop_reason=reason,
            )
        self.attempts += 1
        if self.mode == "tool":
            self.raw = last.text
            self.problems = (f"the reply did not call {FINAL_ANSWER_TOOL}",)
            correction = (
                f"Give your answer by calling the {FINAL_ANSWER_TOOL} tool; its arguments "
                "are the answer."
            )
        else:
            self.raw = last.text
            try:
                self._value = self.spec.parse(last.text)
            except OutputInvalid as exc:
                self.problems = tuple(exc.problems)
            else:
                self.problems = ()
                return None
            correction = (
                "Your answer does not match the required JSON schema:\n"
                + _bullets(self.problems)
                + "\nReply again with only the corrected JSON."
            )
        self.failures += 1
        if self.failures > self.retries:
            raise self._give_up(last)
        return UserMessage(correction)

    def _give_up(self, last: AssistantMessage | None) -> OutputValidationError:
        return OutputValidationError(
            f"the answer did not match {self.spec.name} after {self.failures} attempt(s): "
            + "; ".join(self.problems),
            raw=self.raw,
            problems=self.problems,
            attempts=self.attempts,
            stop_reason=last.stop_reason.value if last is not None else None,
        )
