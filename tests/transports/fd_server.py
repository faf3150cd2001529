"""A local server in its own process (its descriptors are not the client's): prints its
base URL, then serves until killed."""

from __future__ import annotations

import anyio

from tinyagent.testing import LocalServer, text_reply


async def main() -> None:
    # Each reply takes ~0.3 s, so that every call of a test is open at once: the test of
    # running out of descriptors must not pass or fail on how fast the first calls end.
    reply = text_reply("hello there", chunk_size=2, chunk_delay=0.05)
    async with LocalServer(handler=lambda r: reply) as server:
        print(server.base_url, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, backend="trio")
