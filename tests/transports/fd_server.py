"""A local server in its own process (its descriptors are not the client's): prints its
base URL, then serves until killed."""

from __future__ import annotations

import anyio

from tinyagent.testing import LocalServer, text_reply


async def main() -> None:
    async with LocalServer(handler=lambda r: text_reply("hello there", chunk_size=2)) as server:
        print(server.base_url, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, backend="trio")
