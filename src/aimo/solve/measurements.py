"""What the planner learned about an engine, kept between runs, and a short calibration when nothing is known.

The store is one JSON file in aimo's cache directory (`measurements.json`), keyed by engine, model and
machine, holding the throughput curve a run measured and the tokens its answered samples needed.
A run seeds its planner from it and writes back what it measured, so the next run on the same engine
starts informed instead of calibrating.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aimo.engines.base import Engine, GenerationRequest
from aimo.engines.throughput import ThroughputCurve, ThroughputMeter

STORE_NAME = "measurements.json"
KEEP_TOKENS = 400  # the most recent tokens-to-answer kept per engine
CALIBRATION_TOKENS = 24
CALIBRATION_PROMPT = "Count from 1 to 100, separated by commas."


def store_path() -> Path:
    from aimo.models import cache_dir

    return cache_dir() / STORE_NAME


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def engine_key(engine: Engine) -> str | None:
    """Who a measurement belongs to: engine, model, threads or servers, and this machine's CPU.

    None for engines whose speed is not a property of hardware (replay)."""
    inner = getattr(engine, "engine", engine)
    if inner.name == "replay":
        return None
    model = getattr(inner, "model_path", None) or getattr(inner, "model", None) or "?"
    where = (
        getattr(inner, "base_urls", None) or f"{_cpu_name()} x{getattr(inner, 'n_threads', os.cpu_count())}"
    )
    size = ""
    with contextlib.suppress(OSError, TypeError):
        size = f"{os.path.getsize(model)}"
    return f"{inner.name}|{Path(str(model)).name}:{size}|{where}"


def _read_store(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load(key: str | None, path: Path | None = None) -> tuple[ThroughputCurve | None, list[int]]:
    """The cached throughput curve and tokens-to-answer of an engine (None, [] when unknown)."""
    if key is None:
        return None, []
    entry = _read_store(path or store_path()).get(key) or {}
    curve = None
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        curve = ThroughputCurve.from_json(entry.get("throughput") or {})
    tokens = [int(t) for t in entry.get("tokens", []) if isinstance(t, int | float) and t > 0]
    return curve, tokens


def save(
    key: str | None, curve: ThroughputCurve | None, tokens: Sequence[int], path: Path | None = None
) -> None:
    """Merge a run's measurements into the store (best effort: an unwritable cache is not an error)."""
    if key is None or (curve is None and not tokens):
        return
    path = path or store_path()
    store = _read_store(path)
    entry = store.get(key) or {}
    if curve is not None:
        entry["throughput"] = {**(entry.get("throughput") or {}), **curve.to_json()}
    entry["tokens"] = ([*entry.get("tokens", []), *tokens])[-KEEP_TOKENS:]
    entry["updated"] = time.time()
    store[key] = entry
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(store, indent=1), encoding="utf-8")
        tmp.replace(path)


def calibration_levels(max_concurrency: int) -> list[int]:
    """1, 2, 4, … up to `max_concurrency` (which is always included)."""
    levels, c = [], 1
    while c < max_concurrency:
        levels.append(c)
        c *= 2
    return [*levels, max(1, max_concurrency)]


async def calibrate(
    meter: ThroughputMeter,
    levels: Sequence[int],
    tokens: int = CALIBRATION_TOKENS,
    max_seconds: float = float("inf"),
) -> None:
    """Decode `tokens` tokens at each concurrency level through `meter`, so that it measures them.

    Levels go up one by one; none is begun once `max_seconds` have passed (a slow or loaded engine
    then has fewer levels measured, which the planner treats pessimistically)."""
    started = meter.clock()

    async def one(i: int) -> None:
        request = GenerationRequest(
            messages=[{"role": "user", "content": CALIBRATION_PROMPT}],
            max_tokens=tokens,
            temperature=0.7,
            seed=i,
            meta={"calibration": True},
        )
        async for _ in meter.stream(request):
            pass

    for level in levels:
        if meter.clock() - started >= max_seconds:
            return
        await asyncio.gather(*(one(i) for i in range(level)))
