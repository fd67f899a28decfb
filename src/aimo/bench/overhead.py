"""What the openai engine costs: tok/s through `OpenAIEngine` vs the same server called directly.

Both sides send the same requests (same prompt, seed, max_tokens) to the same server in the same run,
interleaved round by round so that drift of the machine hits both equally. The direct side is a
bare httpx stream that only counts content chunks: the floor any client must pay.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx

from aimo.bench.result import BenchResult
from aimo.engines.base import GenerationRequest
from aimo.engines.openai import OpenAIEngine, normalize_base_url

PROMPT = "Write a long, detailed essay about the history of prime numbers."


async def _direct(client: httpx.AsyncClient, url: str, body: dict[str, object]) -> int:
    tokens = 0
    async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                if line[5:].strip() == "[DONE]":
                    break  # as the engine does: the connection is then closed, not pooled
                event = json.loads(line[5:])
                for choice in event.get("choices") or ():
                    tokens += bool((choice.get("delta") or {}).get("content"))
    return tokens


async def _through_engine(engine: OpenAIEngine, request: GenerationRequest) -> int:
    tokens = 0
    async for chunk in engine.stream(request):
        tokens += chunk.tokens if chunk.finish_reason is None else 0
    return tokens


async def _timed(batch: Callable[[], Awaitable[list[int]]]) -> tuple[int, float]:
    started = time.perf_counter()
    counts = await batch()
    return sum(counts), time.perf_counter() - started


async def measure_overhead(
    url: str, rounds: int = 3, concurrency: int = 1, max_tokens: int = 128
) -> BenchResult:
    """Interleave `rounds` direct and engine batches of `concurrency` requests; report tok/s of each."""
    url = normalize_base_url(url)
    engine = OpenAIEngine([url], connect_retries=0)
    model = await engine.model_name(url)
    messages = [{"role": "user", "content": PROMPT}]
    request = GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=0.0, seed=0)
    _, body = engine.request_body(request, model)  # the direct client sends exactly the same body
    rates: dict[str, list[float]] = {"direct": [], "engine": []}
    totals = {side: [0, 0.0] for side in rates}  # tokens, seconds
    try:
        async with httpx.AsyncClient(timeout=600) as client:
            await _direct(client, url, {**body, "max_tokens": 8})  # warm-up
            for _ in range(rounds):
                for side in ("direct", "engine"):
                    if side == "direct":
                        tokens, seconds = await _timed(
                            lambda: asyncio.gather(*(_direct(client, url, body) for _ in range(concurrency)))
                        )
                    else:
                        tokens, seconds = await _timed(
                            lambda: asyncio.gather(
                                *(_through_engine(engine, request) for _ in range(concurrency))
                            )
                        )
                    rates[side].append(tokens / seconds)
                    totals[side][0] += tokens
                    totals[side][1] += seconds
    finally:
        await engine.aclose()
    overall = {side: tokens / seconds for side, (tokens, seconds) in totals.items()}
    rows = [
        {
            "client": side,
            "tok/s (all rounds)": overall[side],
            "tokens": totals[side][0],
            "tok/s (each round)": ", ".join(f"{x:.1f}" for x in rates[side]),
        }
        for side in rates
    ]
    ratio = overall["engine"] / overall["direct"]
    return BenchResult(
        name="openai-overhead",
        settings={
            "url": url,
            "model": model,
            "rounds": rounds,
            "concurrency": concurrency,
            "max_tokens": max_tokens,
        },
        rows=rows,
        ratios={"engine / direct tok/s": ratio},
        notes=["direct = a bare httpx SSE stream that only counts chunks; same requests, interleaved rounds"],
    )
