"""How fast the engine is: total tokens per second as a function of the number of sequences decoding.

`ThroughputCurve` holds measured points (concurrency → total tok/s) and interpolates between them.
`ThroughputMeter` wraps an engine and measures the curve from the run's own streams as they go: the
time between two stream events is credited to the number of streams open then, and so are the tokens
that arrive. Prefill and time to first token count too, so the curve is what a sample really gets.
A meter starts from a prior curve (a calibration, a cached measurement or an `aimo bench engine`
result) and trusts its own measurements level by level as they accumulate.
"""

from __future__ import annotations

import bisect
import json
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimo.engines.base import Chunk, Engine, GenerationRequest

Clock = Callable[[], float]
# A level's own measurement is trusted once it covers this many seconds of decoding.
TRUSTED_SECONDS = 3.0
SHORT_SECONDS = 0.5


@dataclass(frozen=True)
class ThroughputCurve:
    """Total tok/s at each measured concurrency; linear in between, flat beyond the largest level.

    Below the smallest measured level the per-stream speed of that level is assumed (total tok/s
    scales down proportionally), which is pessimistic for batching engines and so safe for planning.
    """

    points: Mapping[int, float]

    def __post_init__(self) -> None:
        if not self.points or any(c < 1 or t <= 0 for c, t in self.points.items()):
            raise ValueError("a throughput curve needs positive tok/s at concurrency levels >= 1")

    def total(self, concurrency: int) -> float:
        """Predicted total tok/s of `concurrency` sequences decoding together."""
        levels = sorted(self.points)
        c = max(1, concurrency)
        if c <= levels[0]:
            return self.points[levels[0]] * c / levels[0]
        if c >= levels[-1]:
            return self.points[levels[-1]]
        i = bisect.bisect_left(levels, c)
        lo, hi = levels[i - 1], levels[i]
        if hi == c:
            return self.points[c]
        w = (c - lo) / (hi - lo)
        return self.points[lo] * (1 - w) + self.points[hi] * w

    def per_stream(self, concurrency: int) -> float:
        """Predicted tok/s of one of `concurrency` sequences decoding together."""
        return self.total(concurrency) / max(1, concurrency)

    def scaled(self, factor: float) -> ThroughputCurve:
        return ThroughputCurve({c: t * factor for c, t in self.points.items()})

    def to_json(self) -> dict[str, float]:
        return {str(c): t for c, t in sorted(self.points.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, float]) -> ThroughputCurve:
        return cls({int(c): float(t) for c, t in data.items()})

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> ThroughputCurve:
        """The curve of `aimo bench engine`'s result rows (`concurrency`, `tok/s`)."""
        return cls({int(r["concurrency"]): float(r["tok/s"]) for r in rows})

    @classmethod
    def from_bench(cls, path: str | Path) -> ThroughputCurve:
        """The curve measured by `aimo bench engine --json FILE`."""
        try:
            return cls.from_rows(json.loads(Path(path).read_text(encoding="utf-8"))["rows"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not an `aimo bench engine --json` result ({exc})") from None


@dataclass
class _Level:
    seconds: float = 0.0
    tokens: int = 0


@dataclass
class ThroughputMeter:
    """An engine wrapper that measures total tok/s per number of open streams (see the module doc)."""

    engine: Engine
    prior: ThroughputCurve | None = None
    clock: Clock = time.monotonic
    levels: dict[int, _Level] = field(default_factory=dict)
    _open: int = 0
    _last: float = 0.0

    @property
    def name(self) -> str:
        return self.engine.name

    def __getattr__(self, attribute: str) -> object:
        # Engine extras (render_prompt, count_tokens, stats) stay reachable through the wrapper.
        return getattr(self.engine, attribute)

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        self._tick()
        self._open += 1
        try:
            async with aclosing(self.engine.stream(request)) as chunks:
                async for chunk in chunks:
                    self._tick()
                    if chunk.tokens:
                        self.levels.setdefault(self._open, _Level()).tokens += chunk.tokens
                    yield chunk
        finally:
            self._tick()
            self._open -= 1

    async def aclose(self) -> None:
        await self.engine.aclose()

    def _tick(self) -> None:
        now = self.clock()
        if self._open:
            self.levels.setdefault(self._open, _Level()).seconds += now - self._last
        self._last = now

    def measured(self, min_seconds: float = TRUSTED_SECONDS) -> dict[int, float]:
        """Levels measured long enough to be trusted: concurrency → total tok/s."""
        return {
            c: level.tokens / level.seconds
            for c, level in self.levels.items()
            if level.seconds >= min_seconds and level.tokens > 0
        }

    def curve(self) -> ThroughputCurve | None:
        """The best current estimate: own measurements, the prior (rescaled to agree with them) elsewhere."""
        own = self.measured()
        if self.prior is None:
            # With nothing else to go on, even a short measurement beats none (short runs).
            own = own or self.measured(min_seconds=SHORT_SECONDS)
            return ThroughputCurve(own) if own else None
        if not own:
            return self.prior
        ratios = [t / self.prior.total(c) for c, t in own.items()]
        scaled = self.prior.scaled(sum(ratios) / len(ratios))
        return ThroughputCurve({**dict(scaled.points), **own})
