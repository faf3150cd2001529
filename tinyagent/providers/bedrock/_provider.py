"""The ``bedrock-converse`` provider: Amazon Bedrock's ConverseStream API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._util.json import dumps, loads
from ..._util.wording import ENDED_BEFORE_MESSAGE_STOP_EVENT
from ...messages import Context, Model, ProviderError
from .._failures import SharedFailureRules
from .._protocol import StopVerdict
from ._auth import aws_region, sigv4_headers
from ._parser import BedrockParser, bedrock_stop_verdict, exception_error
from ._request import build_body, stream_url
from ._whole import bedrock_whole_reply

if TYPE_CHECKING:
    from ...wire import PreparedRequest, StreamOptions

__all__ = ["BedrockProvider"]


class BedrockProvider(SharedFailureRules):
    api = "bedrock-converse"
    native_format = "bedrock-converse"
    framing = "aws-eventstream"
    no_finish = ENDED_BEFORE_MESSAGE_STOP_EVENT
    takes_thinking_budget = True
    takes_response_format = False
    credentials_hint = (
        " (or AWS credentials for SigV4 — AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "a profile, SSO or a role — with the bedrock extra: pip install 'tinyagent-sdk[bedrock]')"
    )

    def new_request_cache(self) -> None:
        return None

    def build_request(
        self, model: Model, context: Context, options: StreamOptions, cache: object | None
    ) -> PreparedRequest:
        from ...wire import PreparedRequest, base_headers

        body = dumps(build_body(model, context, **options.body_settings(), cache=options.cache))
        headers, key = base_headers(model, options)
        headers["accept"] = "application/vnd.amazon.eventstream"
        url = stream_url(model)
        if key:
            headers["authorization"] = f"Bearer {key}"
        elif "authorization" not in {k.lower() for k in headers}:
            signed = sigv4_headers(url, headers, body, aws_region(model.base_url))
            if signed is not None:
                headers = signed
        return PreparedRequest(url, headers, body)

    def payload_parser(self, model: Model, options: StreamOptions) -> BedrockParser:
        return BedrockParser(model, options.max_argument_bytes, self.stop_verdict)

    def whole_reply_payloads(self, obj: object) -> list[bytes] | None:
        """A whole ``/converse`` reply (JSON where a stream was asked for) as stream
        payloads, each ``{"<event>": member}`` as the framing hands them on."""
        return bedrock_whole_reply(obj)

    def stop_verdict(self, reason: str | None, has_tool_calls: bool) -> StopVerdict:
        return bedrock_stop_verdict(reason, has_tool_calls)

    def stream_error(self, payload: bytes, model: Model) -> ProviderError:
        """The error of an exception frame (the native core hands over its payload; the
        pure parser reads it with the same function)."""
        return exception_error(loads(payload), model.provider_name, model.id)
