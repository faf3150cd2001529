"""CPU of the test kit's ``LocalServer`` receiving large request bodies: the cost per MB
must not grow with the body (it once grew quadratically: 12.5 s for 50 MB).

    python benches/bench_server_body.py
"""

from __future__ import annotations

import resource

import anyio
import httpx

from tinyagent.testing import LocalServer, text_reply


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def per_mb(megabytes: int) -> float:
    body = b'{"x":"' + b"a" * (megabytes << 20) + b'"}'
    async with LocalServer([text_reply("ok")]) as server, httpx.AsyncClient() as client:
        c0 = cpu()
        r = await client.post(server.base_url + "/chat/completions", content=body, timeout=120)
        spent = cpu() - c0
        assert r.status_code == 200 and len(server.requests[0].raw_body) == len(body)
    return spent / megabytes * 1e3


def main() -> None:
    print("| body | CPU per MB (ms), client and server |")
    print("|---:|---:|")
    for mb in (5, 50):
        best = min(anyio.run(per_mb, mb, backend="trio") for _ in range(3))
        print(f"| {mb} MB | {best:.1f} |", flush=True)


if __name__ == "__main__":
    main()
