"""The openai engine's ceiling: chunks/s it consumes from a server that streams as fast as it can.

The server is `aimo.bench.chunkserver`, a separate process with no model. At each stream count the
engine and a bare httpx client (`aimo.bench.overhead`'s: it parses each event and counts content
deltas) send byte-identical requests in interleaved rounds, so drift of a shared machine hits both
alike; the client side is one asyncio thread, i.e. one core. The headline ratios are engine / bare in
chunks per CPU second of the client process (wall chunks/s are shown too; on a busy machine they also
measure the neighbours).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx

from aimo.bench.overhead import _direct, _through_engine
from aimo.bench.result import BenchResult
from aimo.engines.base import GenerationRequest
from aimo.engines.openai import OpenAIEngine
from aimo.errors import AimoError

PROMPT = [{"role": "user", "content": "Count for me."}]


@contextlib.contextmanager
def chunk_server(chunks: int, port: int | None = None) -> Iterator[str]:
    """`aimo.bench.chunkserver` in its own process; yields its base URL (…/v1)."""
    if port is None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    command = [sys.executable, "-m", "aimo.bench.chunkserver", "--port", str(port), "--chunks", str(chunks)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AimoError(f"the chunk server exited: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AimoError("the chunk server did not start in 30 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def _rate(one: Callable[[], Awaitable[int]], streams: int, seconds: float) -> tuple[float, float]:
    """(chunks per wall second, chunks per CPU second of this process) of `streams` workers, each
    sending requests back to back for `seconds`. The CPU rate is what one core can take in: it holds
    on a shared machine, where the wall rate also measures who else was running."""
    end = time.perf_counter() + seconds
    started, cpu = time.perf_counter(), time.process_time()

    async def worker() -> int:
        total = 0
        while time.perf_counter() < end:
            total += await one()
        return total

    chunks = sum(await asyncio.gather(*(worker() for _ in range(streams))))
    return chunks / (time.perf_counter() - started), chunks / max(time.process_time() - cpu, 1e-9)


async def measure_client(
    levels: list[int], chunks: int = 1000, seconds: float = 3.0, rounds: int = 2, url: str | None = None
) -> BenchResult:
    """Engine vs bare chunks/s at each stream count in `levels` (a chunk server started unless `url`)."""
    with contextlib.ExitStack() as stack:
        url = url or stack.enter_context(chunk_server(chunks))
        engine = OpenAIEngine([url], connect_retries=0)
        request = GenerationRequest(messages=PROMPT, max_tokens=chunks, temperature=0.0, seed=0)
        rows: list[dict[str, object]] = []
        ratios: dict[str, float] = {}
        try:
            _, body = engine.request_body(request, await engine.model_name(url))
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=max(levels))
            async with httpx.AsyncClient(timeout=600, limits=limits) as client:
                sides: dict[str, Callable[[], Awaitable[int]]] = {
                    "bare": lambda: _direct(client, url, body),
                    "engine": lambda: _through_engine(engine, request),
                }
                for streams in levels:
                    for one in sides.values():  # warm-up: connections opened at this stream count
                        await _rate(one, streams, 0.3)
                    rates: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
                    for _ in range(rounds):
                        for side, one in sides.items():
                            rates[side].append(await _rate(one, streams, seconds))
                    per_cpu = {side: statistics.median(r[1] for r in runs) for side, runs in rates.items()}
                    for side, runs in rates.items():
                        wall = statistics.median(r[0] for r in runs)
                        rows.append(
                            {
                                "streams": streams,
                                "client": side,
                                "chunks/s": round(wall),
                                "chunks/cpu-s": round(per_cpu[side]),
                            }
                        )
                    ratios[f"engine / bare at {streams} streams"] = per_cpu["engine"] / per_cpu["bare"]
        finally:
            await engine.aclose()
    return BenchResult(
        name="client-ceiling",
        settings={"levels": levels, "chunks per request": chunks, "seconds": seconds, "rounds": rounds},
        rows=rows,
        ratios=ratios,
        notes=[
            "server: aimo.bench.chunkserver in its own process (no model); client: one asyncio thread",
            "chunks/cpu-s: chunks per CPU second of the client (what one core takes in; ratios use it), "
            "medians over rounds",
            "bare = an httpx SSE stream that parses each event and counts content deltas; same bodies",
        ],
    )
