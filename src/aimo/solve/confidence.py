"""Token confidence of a sample from the engine's top-k log-probabilities (DeepConf, arXiv 2508.15260).

Per token, confidence C = -mean of the top-k log-probabilities (high when the model is sure: the
runner-up tokens are far less likely than the chosen one) and entropy H over the top-k, renormalised.
Over a trace:

- group confidence: the mean C over a sliding window of `window` tokens;
- `lowest_group`: the lowest group confidence of any full window in the trace (DeepConf's main
  signal); a trace shorter than one window has its mean instead;
- `tail`: the mean C of the last `tail` tokens (the reasoning just before the answer);
- `bottom10`: the mean of the lowest 10% of group confidences;
- `mean`: the mean C; `mean_entropy` and `tail_entropy`: mean H over all tokens / the tail.

`ConfidenceMeter` is fed each chunk's logprobs as they stream and keeps all of this in O(1) per token
(plus one float per token for `bottom10` and the tail). Its `summary()` is what a sample records in
`Sample.confidence`; `series()` is the per-token record `--record-logprobs` keeps so a run
replays with its confidences.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from aimo.solve.types import Sample
from aimo.solve.voting import confidence_measure

DEFAULT_WINDOW = 2048
DEFAULT_TAIL = 2048
MEASURES = ("lowest_group", "tail", "bottom10", "mean")
_RECORD_DIGITS = 3

WarmupOn = Literal["finished", "first_window"]


def token_confidence(top_logprobs: Sequence[float]) -> float:
    """DeepConf's token confidence: minus the mean of the top-k log-probabilities (0 when none)."""
    return -sum(top_logprobs) / len(top_logprobs) if top_logprobs else 0.0


def token_entropy(top_logprobs: Sequence[float]) -> float:
    """Entropy (nats) of one token position from its top log-probabilities, renormalised over them."""
    if not top_logprobs:
        return 0.0
    peak = max(top_logprobs)
    weights = [math.exp(lp - peak) for lp in top_logprobs]
    total = sum(weights)
    return -sum(w / total * math.log(w / total) for w in weights if w > 0)


@dataclass(frozen=True)
class ConfidenceSummary:
    """The compact confidence record of one sample (see the module doc)."""

    tokens: int
    mean: float
    lowest_group: float
    tail: float
    bottom10: float
    mean_entropy: float
    tail_entropy: float

    def to_record(self) -> dict[str, float | int]:
        return dict(vars(self))  # unrounded: online thresholds are set from recorded values

    @classmethod
    def from_record(cls, record: Mapping[str, float | int]) -> ConfidenceSummary:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


class ConfidenceMeter:
    """Streaming confidence of one sample (see the module doc); feed it each chunk's `logprobs`."""

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        tail: int = DEFAULT_TAIL,
        keep_series: bool = False,
        gate: ProblemGate | None = None,
    ) -> None:
        """`keep_series`: keep the per-token top-k logprobs (`series`); `gate`: the problem's online
        threshold that `below_gate` checks."""
        if window < 1 or tail < 1:
            raise ValueError("confidence window and tail must be at least 1 token")
        self.window = window
        self.tail = tail
        self.tokens = 0
        self._total_conf = 0.0
        self._total_entropy = 0.0
        self._window: deque[float] = deque()
        self._window_sum = 0.0
        self._groups: list[float] = []  # group confidence after every token (for bottom10)
        self._tail: deque[tuple[float, float]] = deque(maxlen=tail)
        self.series: list[list[float]] | None = [] if keep_series else None
        self.gate = gate
        self.first_group: float | None = None  # the group confidence of the first full window
        self.reported = False  # `first_group` was counted toward a `first_window` warm-up

    def add(self, logprobs: Iterable[Sequence[float]]) -> None:
        for position in logprobs:
            conf, entropy = token_confidence(position), token_entropy(position)
            self.tokens += 1
            self._total_conf += conf
            self._total_entropy += entropy
            self._window.append(conf)
            self._window_sum += conf
            if len(self._window) > self.window:
                self._window_sum -= self._window.popleft()
            if len(self._window) == self.window:
                group = self._window_sum / self.window
                self._groups.append(group)
                if self.first_group is None:
                    self.first_group = group
            self._tail.append((conf, entropy))
            if self.series is not None:
                self.series.append([round(lp, _RECORD_DIGITS) for lp in position])

    @property
    def group(self) -> float | None:
        """The current group confidence (mean of the last `window` tokens); None before a full window."""
        return self._window_sum / self.window if len(self._window) == self.window else None

    def below_gate(self) -> bool:
        """Whether the gate (if any) says this sample should stop now."""
        return self.gate is not None and self.gate.stops(self)

    def summary(self) -> ConfidenceSummary | None:
        """The sample's compact confidence record; None when no logprobs came."""
        if not self.tokens:
            return None
        tail = len(self._tail)
        mean = self._total_conf / self.tokens
        groups = self._groups or [mean]
        lowest = sorted(groups)[: max(1, len(groups) // 10)]
        return ConfidenceSummary(
            tokens=self.tokens,
            mean=mean,
            lowest_group=min(groups),
            tail=sum(c for c, _ in self._tail) / tail,
            bottom10=sum(lowest) / len(lowest),
            mean_entropy=self._total_entropy / self.tokens,
            tail_entropy=sum(h for _, h in self._tail) / tail,
        )


def summarize(
    logprobs: Iterable[Sequence[float]], window: int = DEFAULT_WINDOW, tail: int = DEFAULT_TAIL
) -> ConfidenceSummary | None:
    """The summary of a recorded per-token series (None when it is empty)."""
    meter = ConfidenceMeter(window, tail)
    meter.add(logprobs)
    return meter.summary()


def first_below(
    logprobs: Sequence[Sequence[float]], threshold: float, window: int = DEFAULT_WINDOW, after: int = 0
) -> int | None:
    """The token count at which a recorded trace's group confidence (over a full window) first falls
    below `threshold`, not before `after` tokens; None if it never does. This is where DeepConf online
    stops the trace."""
    meter = ConfidenceMeter(window, 1)
    for index, position in enumerate(logprobs):
        meter.add((position,))
        group = meter.group
        if index + 1 > after and is_below(group, threshold):
            return index + 1
    return None


def is_below(group: float | None, threshold: float) -> bool:
    """Whether a group confidence is below a threshold, beyond the rounding of running sums (a trace
    exactly as confident as the warm-up trace that set the threshold is not stopped)."""
    return group is not None and group < threshold - 1e-9 * abs(threshold)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, linear interpolation (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class ConfidenceGate:
    """DeepConf online for one problem: the first `warmup` finished samples set a threshold (the
    `100 - keep` percentile of their lowest group confidence, so about `keep`% of traces like them
    would pass); from then on a running sample stops as soon as its group confidence falls below it.

    With `warmup_on="first_window"` (a triage of a problem's samples one window in) the warm-up
    counts each sample's group confidence over its first full window instead (a sample shorter than a
    window: its own, at its end), and the threshold is checked against that same first window: a
    sample whose first window is below it stops as soon as both are known; later windows are not
    checked. Samples that all run at once set their problem's threshold a window in, and the least
    sure `100 - keep`% of them stop there.

    The gate holds under concurrency: samples that started before the threshold was known are checked
    against it as soon as it is, and a warm-up sample cut short by a stop rule does not count."""

    def __init__(
        self,
        warmup: int = 16,
        keep: float = 90.0,
        window: int = DEFAULT_WINDOW,
        warmup_on: WarmupOn = "finished",
    ) -> None:
        if warmup < 1:
            raise ValueError("confidence warm-up needs at least 1 sample")
        if not 0 < keep <= 100:
            raise ValueError("confidence keep must be a percentage in (0, 100]")
        if warmup_on not in ("finished", "first_window"):
            raise ValueError(f'confidence warm-up is on "finished" or "first_window", not {warmup_on!r}')
        self.warmup = warmup
        self.keep = keep
        self.window = window
        self.warmup_on = warmup_on
        self._lowest: list[float] = []
        self.threshold: float | None = None

    def observe(self, lowest_group: float | None) -> None:
        """A warm-up sample finished by itself with this lowest group confidence."""
        if self.threshold is not None or lowest_group is None:
            return
        self._lowest.append(lowest_group)
        if len(self._lowest) >= self.warmup:
            self.threshold = percentile(self._lowest, 100 - self.keep)

    def counts_at_end(self, tokens: int) -> bool:
        """Whether a sample of `tokens` that finished by itself counts toward the warm-up at its end
        (with `first_window`, a sample of a full window or more counted when it had one)."""
        return self.warmup_on == "finished" or tokens < self.window

    def stops(self, meter: ConfidenceMeter) -> bool:
        """Whether a running sample with this meter should stop now."""
        if self.threshold is None:
            return False
        group = meter.first_group if self.warmup_on == "first_window" else meter.group
        return is_below(group, self.threshold)


@dataclass(frozen=True)
class OnlineConfidence:
    """DeepConf online's settings, one gate per problem or one for the run: what `aimo solve`'s strategy
    (`StrategyConfig.online_confidence`) and the replay (`aimo.solve.arrival`) both build gates from."""

    warmup: int = 16
    keep: float = 90.0
    window: int = DEFAULT_WINDOW
    scope: Literal["problem", "run"] = "problem"  # "run": one threshold from the first problems' samples
    warmup_on: WarmupOn = "finished"  # "first_window": each sample's first full window (scope "problem")

    def __post_init__(self) -> None:
        if self.scope not in ("problem", "run"):
            raise ValueError(f'online scope must be "problem" or "run", not {self.scope!r}')
        if self.warmup_on == "first_window" and self.scope != "problem":
            raise ValueError("online warmup_on=first_window needs scope=problem")

    def gate(self, samples: int | None = None) -> ConfidenceGate:
        """A gate with these settings, before its warm-up; a problem's own (of `samples`) warms up on
        at most all of them."""
        warmup = min(self.warmup, samples) if samples and self.scope == "problem" else self.warmup
        return ConfidenceGate(warmup, self.keep, self.window, self.warmup_on)


class ProblemGate:
    """One problem's use of a gate (its own, or the run's): while the problem has no answer, the gate
    never cuts its last hope of one (the last running sample, when no more are to start), so a problem
    whose traces are all unsure (which a run-wide threshold can meet) still answers. The solver reports
    each sample's start and end; `planned`: the samples it means to start."""

    def __init__(self, gate: ConfidenceGate, planned: int) -> None:
        self.gate = gate
        self.to_start = planned
        self.running = 0
        self.answered = 0

    @property
    def threshold(self) -> float | None:
        return self.gate.threshold

    def started(self) -> None:
        self.running += 1
        self.to_start = max(0, self.to_start - 1)

    def ended(self, sample: Sample, natural: bool) -> None:
        """A sample ended (a cut one was counted when it was cut); one that reached its end by itself
        (`natural`) counts toward the warm-up."""
        if natural and self.gate.counts_at_end(_tokens(sample)):
            self.gate.observe(confidence_measure(sample, "lowest_group"))
        if sample.finish_reason != "low_confidence":
            self.running -= 1
            self.answered += sample.answer is not None

    def stops(self, meter: ConfidenceMeter) -> bool:
        if self.gate.warmup_on == "first_window" and not meter.reported and meter.first_group is not None:
            meter.reported = True
            self.gate.observe(meter.first_group)
        if not self.gate.stops(meter) or (self.answered == 0 and self.running + self.to_start <= 1):
            return False
        self.running -= 1  # now, so samples checked before this one's end is reported see it gone
        return True


def _tokens(sample: Sample) -> int:
    """The tokens a sample's confidence summary covers (0 without one)."""
    return int(sample.confidence["tokens"]) if sample.confidence else 0


def record_confidence(sample: Sample, meter: ConfidenceMeter) -> None:
    """Store a finished sample's confidence: the summary (`confidence`), the mean entropy
    (`mean_entropy`, what `VoteConfig.entropy` reads) and, when kept, the per-token series (`logprobs`)."""
    summary = meter.summary()
    if summary is None:
        return
    sample.confidence = summary.to_record()
    sample.mean_entropy = summary.mean_entropy
    if meter.series is not None:
        sample.logprobs = meter.series
