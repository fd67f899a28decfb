"""`aimo bench engine`: output tokens per second and time to first token at growing concurrency.

Each level starts N streams of the same long-output prompt at once (like the N samples of one
problem), counts the tokens each really generated (engines cannot be told to ignore the end of
text, so nothing is assumed), and reports the aggregate tok/s and the TTFT percentiles. The
saturation point is the first concurrency where doubling it gains less than 10% throughput.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aimo.bench.result import BenchResult, percentile
from aimo.engines.base import Engine, GenerationRequest, Message

DEFAULT_CONCURRENCY: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
MIN_GAIN = 0.10  # doubling the concurrency must gain at least this much throughput
LONG_OUTPUT_PROMPT = (
    "Write out every whole number from 1 to 1000 in English words, one per line, followed by its "
    "square and whether it is prime. Do not skip any number, do not summarize, and do not stop early."
)


def long_output_messages(nonce: str = "") -> list[Message]:
    """The fixed long-output prompt; `nonce` makes a prompt that no earlier level has cached."""
    head = f"[{nonce}] " if nonce else ""
    return [{"role": "user", "content": head + LONG_OUTPUT_PROMPT}]


@dataclass(frozen=True)
class StreamTiming:
    """One finished stream: when its first text came, how many tokens it made, and when it ended."""

    ttft_s: float | None  # seconds from the request to its first text (None: no text at all)
    seconds: float  # from the request to the last chunk
    tokens: int
    finish_reason: str

    @property
    def decode_tok_s(self) -> float | None:
        """Tokens per second after the first one came (the stream's own decode speed)."""
        if self.ttft_s is None or self.tokens < 2 or self.seconds <= self.ttft_s:
            return None
        return (self.tokens - 1) / (self.seconds - self.ttft_s)


async def timed_stream(engine: Engine, request: GenerationRequest) -> StreamTiming:
    """Run one request to its end, timing the first text and counting the tokens generated."""
    started = time.perf_counter()
    ttft: float | None = None
    counted, final, finish = 0, None, "none"
    async for chunk in engine.stream(request):
        if ttft is None and (chunk.text or chunk.tokens):
            ttft = time.perf_counter() - started
        counted += chunk.tokens
        if chunk.finish_reason is not None:
            finish, final = chunk.finish_reason, chunk.completion_tokens
    # The engine's own count is the truth; the chunks' counts stand in when it gives none.
    tokens = final if final is not None else counted
    return StreamTiming(ttft, time.perf_counter() - started, tokens, finish)


async def run_concurrently(
    engine: Engine, requests: Sequence[GenerationRequest]
) -> tuple[list[StreamTiming], float]:
    """Start all `requests` at once; their timings and the wall-clock seconds until the last ended."""
    started = time.perf_counter()
    timings = await asyncio.gather(*(timed_stream(engine, r) for r in requests))
    return list(timings), time.perf_counter() - started


def level_requests(
    concurrency: int, max_tokens: int, temperature: float, seed: int, nonce: str
) -> list[GenerationRequest]:
    """`concurrency` requests of the long-output prompt with seeds seed, seed+1, ..."""
    messages = long_output_messages(nonce)
    return [
        GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=temperature, seed=seed + i)
        for i in range(concurrency)
    ]


def level_row(concurrency: int, timings: Sequence[StreamTiming], wall_s: float) -> dict[str, Any]:
    """One table row: throughput, latency percentiles and token counts of one concurrency level."""
    tokens = sum(t.tokens for t in timings)
    ttfts = [t.ttft_s for t in timings if t.ttft_s is not None]
    decode = [d for t in timings if (d := t.decode_tok_s) is not None]
    return {
        "concurrency": concurrency,
        "tok/s": tokens / wall_s if wall_s > 0 else 0.0,
        "stream tok/s": percentile(decode, 50),
        "ttft p50 s": percentile(ttfts, 50),
        "ttft p95 s": percentile(ttfts, 95),
        "tokens/stream": tokens / len(timings) if timings else 0.0,
        "wall s": wall_s,
    }


def saturation_point(levels: Sequence[tuple[int, float]], min_gain: float = MIN_GAIN) -> int | None:
    """The lowest concurrency from which doubling gains less than `min_gain` throughput, for good.

    `levels` are (concurrency, tok/s) pairs. Concurrency c is the saturation point when no higher
    level beats it by `min_gain` or more per doubling (x4 must gain 21% for 10% per doubling), so a
    single noisy dip does not end the search while throughput grows again after it. None: the last
    level still grew, or there is only one level.
    """
    ordered = sorted(dict(levels).items())
    for i, (c1, t1) in enumerate(ordered[:-1]):
        later = ordered[i + 1 :]
        if all(not _gains_enough(c1, t1, c2, t2, min_gain) for c2, t2 in later):
            return c1
    return None


def _gains_enough(c1: int, t1: float, c2: int, t2: float, min_gain: float) -> bool:
    if t1 <= 0:
        return t2 > 0
    return t2 >= t1 * (1 + min_gain) ** math.log2(c2 / c1)


def gains(levels: Sequence[tuple[int, float]]) -> list[float | None]:
    """Each level's throughput over the previous level's (None for the first)."""
    out: list[float | None] = [None]
    for (_, t1), (_, t2) in itertools.pairwise(levels):
        out.append(t2 / t1 if t1 > 0 else None)
    return out


async def bench_engine(
    engine: Engine,
    concurrency: Sequence[int] = DEFAULT_CONCURRENCY,
    max_tokens: int = 512,
    temperature: float = 0.7,
    seed: int = 0,
    settings: dict[str, object] | None = None,
) -> BenchResult:
    """Measure every concurrency level (after a warm-up) and find the saturation point."""
    levels = sorted(set(concurrency))
    if not levels or levels[0] < 1:
        raise ValueError("concurrency levels must be positive integers")
    await run_concurrently(engine, level_requests(1, min(8, max_tokens), temperature, seed, "warm-up"))
    rows = []
    for level in levels:
        timings, wall = await run_concurrently(
            engine, level_requests(level, max_tokens, temperature, seed, f"run {level}")
        )
        rows.append(level_row(level, timings, wall))
    pairs = [(int(r["concurrency"]), float(r["tok/s"])) for r in rows]
    for row, gain in zip(rows, gains(pairs), strict=True):
        row["gain"] = gain
    result = BenchResult(
        name="engine",
        settings={
            "engine": engine.name,
            **(settings or {}),
            "concurrency": levels,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed,
            "prompt": LONG_OUTPUT_PROMPT,
        },
        rows=rows,
    )
    _summarize(result, pairs, max_tokens)
    return result


def _summarize(result: BenchResult, pairs: list[tuple[int, float]], max_tokens: int) -> None:
    best_level, best = max(pairs, key=lambda p: p[1])
    result.ratios.update({"peak tok/s": best, "peak concurrency": float(best_level)})
    point = saturation_point(pairs)
    if point is None:
        result.notes.append(
            f"not saturated: throughput still grows by {MIN_GAIN:.0%} or more per doubling up to "
            f"concurrency {pairs[-1][0]}; try higher levels"
        )
    else:
        result.ratios["saturation concurrency"] = float(point)
        result.notes.append(
            f"saturation at concurrency {point}: no higher level gains {MIN_GAIN:.0%} or more per doubling"
        )
    short = [r["concurrency"] for r in result.rows if r["tokens/stream"] < max_tokens / 2]
    if short:
        result.notes.append(
            f"streams ended early (under half of max_tokens) at concurrency {short}: tok/s counts the "
            "tokens actually generated, but short streams weigh prefill and start-up more"
        )
    result.notes.append(
        "tok/s: output tokens of all streams / wall seconds of the level; stream tok/s: the median "
        "stream's decode speed after its first token; ttft: request to first text"
    )
