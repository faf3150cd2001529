"""Typed structured output: ``await agent.prompt_output(text, X)`` returns an ``X``.

An answer is asked for through the provider's JSON-schema response format (``native``)
or a final-answer tool (``tool``); ``auto`` picks the response format where the wire
format has one (OpenAI chat completions and Responses) and the tool elsewhere
(Anthropic). A wrong answer goes back to the model with what was wrong, up to
``output_retries`` times. :class:`PartialJSON` reads the answer as it streams.

It imports ``tools``, ``providers`` (what a wire format takes: a response format or
not), ``wire``, ``serde``, ``messages`` and ``_util``; the agent imports it.
"""

from ..messages import OutputError, OutputValidationError
from ._attempts import FINAL_ANSWER_TOOL, OutputMode

# For the rooms above, not the user's surface: they import a room only through its face.
from ._attempts import OutputAttempts as OutputAttempts
from ._attempts import check_output_mode as check_output_mode
from ._partial_json import PartialJSON, PartialJSONError
from ._spec import OutputSpec, output_spec
from ._stream import OutputStream
from ._stream import output_stream as output_stream

__all__ = [
    "FINAL_ANSWER_TOOL",
    "OutputError",
    "OutputMode",
    "OutputSpec",
    "OutputStream",
    "OutputValidationError",
    "PartialJSON",
    "PartialJSONError",
    "output_spec",
]
