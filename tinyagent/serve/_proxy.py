"""``POST /api/stream``: the seed's proxy protocol, relayed with this server's keys.

The client names a model by provider and id; only the models this server relays are
reachable, each with the server's own key, and nothing the client sees holds a key: a
provider that refuses the server's credentials is reported without its words (which
may quote part of the key).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import attrs
from starlette.requests import Request
from starlette.responses import Response

from .._util.json import dumps
from ..call import stream
from ..messages import AssistantMessage, ErrorEvent, FailureKind, StreamEvent, Usage
from ..providers import RelayEncoder, RelayRequestError, read_relay_request
from ._errors import ApiError
from ._state import server_of
from ._stream import Emit, EventStream

__all__ = ["proxy_stream"]

_HIDDEN = (FailureKind.AUTHENTICATION, FailureKind.PERMISSION)


async def proxy_stream(request: Request) -> Response:
    server = server_of(request)
    token = server.authorize(request)
    body = await server.read_json(request)
    try:
        relay = read_relay_request(dumps(body))
    except RelayRequestError as exc:
        raise ApiError(400, str(exc)) from None
    name, model = server.models.find(relay.provider, relay.model_id)
    server.check_model(token, name)
    release = server.gate.take(server.caller(request, token))
    encoder = RelayEncoder(relay.camel)
    deadline = server.limits.run_deadline

    def told(event: StreamEvent) -> StreamEvent:
        if isinstance(event, ErrorEvent):
            return ErrorEvent(_for_client(event.message, name, server.scrub))
        return event

    async def produce(emit: Emit) -> None:
        await emit(encoder.start())
        async with stream(model, relay.context, **relay.options) as events:
            with anyio.move_on_after(deadline) as scope:
                async for event in events:
                    # the rest of the read's events go out with it, in one write
                    batch = [event, *events.take_pending()]
                    data = b"".join(d for e in batch if (d := encoder.encode(told(e))) is not None)
                    if data:
                        await emit(data)
            if scope.cancelled_caught:
                events.abort(f"the relay's deadline of {deadline:g} s passed")
                tail = events.take_pending()
                data = b"".join(d for e in tail if (d := encoder.encode(told(e))) is not None)
                if data:
                    await emit(data)

    def failed(message: str) -> bytes:
        data = dumps({"type": "error", "reason": "error", "errorMessage": message,
                      "usage": encoder.usage(Usage())})  # fmt: skip
        return b"data: " + data + b"\n\n"

    return EventStream(produce, release=release, failed=failed)


def _for_client(
    message: AssistantMessage, name: str, scrub: Callable[[str], str]
) -> AssistantMessage:
    """A failed reply as a client may see it: the server's secrets out of its words, and
    a refusal of the server's own key not worded by the provider (it may quote the key)."""
    failure = message.failure
    if failure is not None and failure.kind in _HIDDEN:
        text = (
            f"the relay's credentials for {name} were refused by the provider "
            f"(HTTP {failure.status}); this is the relay's configuration, not your token"
        )
    else:
        text = scrub(message.error_message or "")
    return attrs.evolve(message, error_message=text)
