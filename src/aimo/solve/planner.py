"""The planner inside the time manager: how many samples to run, with how many tokens each.

It plans on two things it measures: the engine's speed at each number of concurrent sequences
(`ThroughputMeter`) and how many tokens a sample needs before it answers (`TokenModel`: this run's
answered samples, a prior before there are enough). For each problem:

- **start**: the most samples (up to the strategy's `samples`) whose length (the `quantile` of the
  token model, a high one: a batch that is too slow loses all its samples at once) fits into the
  problem's target time at the speed each gets when that many decode together; at least one, since
  one sample is a valid plan;
- **add**: while the vote is not settled, as many samples as could change its winner (the leader's
  margin plus one), if they fit into what is left of the target time at the concurrency they would
  run at (adaptive sampling); fewer could not change the answer, so they are not worth their time;
- **cap**: every sample gets the tokens it can generate before the problem's hard deadline at that
  concurrency (never more than `max_tokens`), so a sample it starts can finish; one that reaches
  the cap is forced to answer in a few tokens.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aimo.engines.base import Engine
from aimo.engines.throughput import ThroughputCurve, ThroughputMeter
from aimo.solve import measurements
from aimo.solve.config import BudgetConfig

if TYPE_CHECKING:
    from aimo.solve.run import RunSettings

# Below this many answered samples the prior carries part of the estimate.
PRIOR_WEIGHT = 8
MIN_PLAN_TOKENS = 16
# A sample's cap is this share of what the measured speed says it could reach by its deadline: decoding
# slows as a sequence grows and as other samples join, so a cap right at the deadline would be cut there.
CAP_SAFETY = 0.8
# A calibration takes at most this share of a run's budget, and never longer than CALIBRATION_MAX_S.
CALIBRATION_SHARE = 0.02
CALIBRATION_MAX_S = 20.0
# Budgets too short to spare this much calibrate nothing: the planner learns from the run's own streams.
CALIBRATION_MIN_S = 0.1


@dataclass
class TokenModel:
    """Tokens a sample needs before it answers: this run's answered samples, a prior before that."""

    prior: list[int] = field(default_factory=list)
    observed: list[int] = field(default_factory=list)

    def add(self, tokens: int) -> None:
        if tokens > 0:
            self.observed.append(tokens)

    def quantile(self, q: float, default: float) -> float:
        """The q-quantile of tokens-to-answer; `default` when nothing is known.

        With few observations the prior's quantile is mixed in, weighted as `PRIOR_WEIGHT` samples."""
        own = _quantile(self.observed, q)
        prior = _quantile(self.prior, q)
        if own is None:
            return default if prior is None else prior
        if prior is None:
            return own
        w = min(1.0, len(self.observed) / PRIOR_WEIGHT)
        return own * w + prior * (1 - w)


def _quantile(values: Iterable[int], q: float) -> float | None:
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return float(data[0])
    cut = statistics.quantiles(data, n=100, method="inclusive")
    return cut[min(98, max(0, round(q * 100) - 1))]


@dataclass(frozen=True)
class Start:
    """What the planner decided: start `samples` samples with `max_tokens` each."""

    samples: int
    max_tokens: int


@dataclass
class Planner:
    """Decides the samples of one problem at a time (see the module doc)."""

    meter: ThroughputMeter
    tokens: TokenModel
    max_samples: int
    max_tokens: int
    quantile: float = BudgetConfig.model_fields["plan_quantile"].default
    # Per-sample overhead in seconds (prefill, first token, answer extraction), added to each prediction.
    overhead_s: float = 0.5
    # Where what this run measured is kept for the next run on the same engine (None: nowhere).
    key: str | None = None
    # Sample 0 is greedy and wins ties (StrategyConfig.greedy_first).
    greedy_first: bool = False
    # This problem's predicted tokens relative to a typical problem's (the token scheduler's weight).
    token_scale: float = 1.0

    def curve(self) -> ThroughputCurve | None:
        return self.meter.curve()

    def typical_tokens(self) -> float:
        typical = self.tokens.quantile(self.quantile, self.max_tokens / 2)
        return min(self.max_tokens, typical * self.token_scale)

    def seconds_for(self, curve: ThroughputCurve | None, tokens: float, concurrency: int) -> float | None:
        """Predicted seconds for one of `concurrency` sequences to generate `tokens` (None: unknown speed)."""
        if curve is None:
            return None
        return self.overhead_s + tokens / curve.per_stream(concurrency)

    def cap(self, curve: ThroughputCurve | None, concurrency: int, seconds: float | None) -> int:
        """Tokens a sample can generate in `seconds` at `concurrency` (at most `max_tokens`)."""
        if curve is None or seconds is None:
            return self.max_tokens
        reachable = int(CAP_SAFETY * (seconds - self.overhead_s) * curve.per_stream(concurrency))
        return max(MIN_PLAN_TOKENS, min(self.max_tokens, reachable))

    def first(self, target_s: float | None, deadline_s: float | None) -> Start:
        """The samples to start on a new problem with `target_s` to plan for and `deadline_s` at most."""
        curve = self.curve()
        n = 1
        if target_s is None:  # no budget: the strategy's samples, as many as it asks for
            n = self.max_samples
        else:
            typical = self.typical_tokens()
            for k in range(self.max_samples, 0, -1):
                if k == 2 and self.greedy_first:
                    continue  # two votes cannot overrule the greedy sample's tie-break: one is as good
                need = self.seconds_for(curve, typical, k)
                if need is not None and need <= target_s:
                    n = k
                    break
        return Start(n, self.cap(curve, n, deadline_s))

    def more(
        self,
        running: int,
        started: int,
        target_left_s: float | None,
        deadline_left_s: float | None,
        wanted: int = 1,
    ) -> Start:
        """Whether to add `wanted` samples now (all or none), `running` being still in flight and
        `started` started so far."""
        count = min(wanted, self.max_samples - started)
        if count < wanted or count < 1 or target_left_s is None:
            return Start(0, 0)
        curve = self.curve()
        need = self.seconds_for(curve, self.typical_tokens(), running + count)
        if need is None or need > target_left_s:
            return Start(0, 0)
        return Start(count, self.cap(curve, running + count, deadline_left_s))

    def remember(self) -> None:
        """Keep this run's measurements for the next run on the same engine (best effort)."""
        measured = self.meter.measured()
        measurements.save(self.key, ThroughputCurve(measured) if measured else None, self.tokens.observed)


async def prepare_planner(
    engine: Engine, settings: RunSettings, clock: Callable[[], float] = time.monotonic
) -> Planner:
    """A planner for a timed run: the engine wrapped in a meter, seeded with what is known of it.

    The prior speed comes from `BudgetConfig.throughput` (an `aimo bench engine --json` file), else
    the engine's own curve (a replay engine's), else the measurement store; when none is known, a
    short calibration measures the engine (inside the run's time, which has started)."""
    budget, strategy = settings.budget, settings.strategy
    key = measurements.engine_key(engine)
    cached_curve, cached_tokens = measurements.load(key)
    prior: ThroughputCurve | None
    if budget.throughput:
        prior = ThroughputCurve.from_bench(budget.throughput)
    else:
        prior = getattr(engine, "throughput", None) or cached_curve
    meter = ThroughputMeter(engine, prior, clock)
    limit = CALIBRATION_SHARE * budget.total_s if budget.total_s else CALIBRATION_MAX_S
    if prior is None and budget.calibrate and key is not None and limit >= CALIBRATION_MIN_S:
        levels = measurements.calibration_levels(strategy.samples)
        await measurements.calibrate(meter, levels, max_seconds=min(CALIBRATION_MAX_S, limit))
        measured = meter.measured(min_seconds=0.0)
        meter.prior = ThroughputCurve(measured) if measured else None
        meter.levels.clear()
    # Without a prior, half the token cap stands in for one until this run has measured a few samples.
    prior_tokens = [budget.prior_tokens] if budget.prior_tokens else list(cached_tokens)
    tokens = TokenModel(prior=prior_tokens or [max(1, settings.sampling.max_tokens // 2)])
    return Planner(
        meter,
        tokens,
        max_samples=strategy.samples,
        max_tokens=settings.sampling.max_tokens,
        quantile=budget.plan_quantile,
        key=key,
        greedy_first=strategy.greedy_first,
    )
