"""Typed structured output: ``await agent.prompt_output(text, X)`` returns an ``X``.

An answer is asked for through the provider's JSON-schema response format (``native``)
or a final-answer tool (``tool``); ``auto`` picks the response format where the wire
format has one (OpenAI chat completions and Responses) and the tool elsewhere
(Anthropic). A wrong answer goes back to the model with what was wrong, up to
``output_retries`` times. :class:`PartialJSON` reads the answer as it streams.
"""

from .._errors import OutputError, OutputValidationError
from ._attempts import FINAL_ANSWER_TOOL, OutputMode
from ._partial_json import PartialJSON, PartialJSONError
from ._spec import OutputSpec, output_spec
from ._stream import OutputStream

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
