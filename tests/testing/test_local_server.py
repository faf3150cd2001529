"""The test kit's server: a large request body arrives whole, in order (its read is
linear; the cost per MB is measured in benches/bench_server_body.py)."""

from __future__ import annotations

import httpx
import pytest

from tinyagent.testing import LocalServer, text_reply

pytestmark = pytest.mark.anyio


async def test_a_large_body_arrives_whole() -> None:
    body = b"".join(i.to_bytes(4, "big") for i in range(5 << 20))  # 20 MB, no repeats
    async with LocalServer([text_reply("ok")]) as server, httpx.AsyncClient() as client:
        r = await client.post(server.base_url + "/chat/completions", content=body, timeout=60)
        assert r.status_code == 200
        assert server.requests[0].raw_body == body
