"""Metrics of an evaluation: pure functions over graded samples and problems.

- `pass_at_k`: the unbiased estimator 1 − C(n−c, k) / C(n, k) of "some of k samples is right".
- `maj_at_k`: the expected correctness of a plain majority vote over k of the n samples (every
  size-k subset when there are few, else many random ones from a seeded RNG); a tie between
  answers counts as the fraction of the tied answers that are right (a fair coin among them).
- `bootstrap_ci` / `paired_bootstrap`: seeded percentile intervals, resampling problems.
- `spread`: mean ± standard deviation, min and max of a metric across repeats.
- `summarize`: every metric of a run, each as an `Estimate` (value, interval, spread).

A sample counts for the sample metrics (pass@k, maj@k, no-answer rate) when it finished: samples
cancelled by early stopping or a deadline, or failed by the engine, have no say.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

MAX_SUBSETS = 1000
BOOTSTRAP_ROUNDS = 2000


@dataclass(frozen=True)
class SampleView:
    """What the metrics need of one sample. `key` is its voting key; `correct` None without gold."""

    key: str | None
    correct: bool | None
    tokens: int
    seconds: float = 0.0
    code_calls: int = 0
    code_errors: int = 0
    finished: bool = True


@dataclass(frozen=True)
class ProblemView:
    """What the metrics need of one problem in one repeat. `correct` (the strategy's own voted
    answer, early stopping included) is None when the problem has no gold answer."""

    problem_id: str
    repeat: int
    correct: bool | None
    seconds: float
    samples: tuple[SampleView, ...] = ()

    @property
    def finished(self) -> tuple[SampleView, ...]:
        return tuple(s for s in self.samples if s.finished)

    @property
    def graded(self) -> bool:
        return self.correct is not None


@dataclass(frozen=True)
class Spread:
    """A metric across repeats: mean ± sd (sample standard deviation), min, max, count."""

    mean: float
    std: float
    min: float
    max: float
    n: int


@dataclass(frozen=True)
class Estimate:
    """One metric: its value (mean over repeats), a 95% bootstrap interval over problems, and its
    spread across repeats (None with a single repeat)."""

    value: float
    ci: tuple[float, float] | None
    repeats: Spread | None
    problems: int


@dataclass(frozen=True)
class Summary:
    """Every metric of a run, in display order; `ks` are the k of maj@k and pass@k."""

    metrics: dict[str, Estimate] = field(default_factory=dict)
    ks: tuple[int, ...] = ()
    repeats: int = 1
    problems: int = 0

    @property
    def full_ks(self) -> tuple[int, ...]:
        """The k whose maj@k and pass@k cover every graded problem (early stopping leaves some with fewer
        than k finished samples, and those are left out of maj@k and pass@k)."""
        base = self.metrics.get("pass@1")
        if base is None:
            return ()
        return tuple(
            k
            for k in self.ks
            if (m := self.metrics.get(f"pass@{k}")) is not None and m.problems == base.problems
        )

    @property
    def top_maj(self) -> str | None:
        """The name of the largest maj@k that covers every graded problem (None: only pass@1)."""
        ks = [k for k in self.full_ks if k > 1]
        return f"maj@{ks[-1]}" if ks else None


# -- estimators -------------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c right) is right."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def vote_credit(keys: Iterable[str | None], correct: Mapping[str, bool]) -> float:
    """Credit of a plain majority vote: 1/0, or the right fraction of the answers tied for the most votes."""
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return 0.0
    best = max(counts.values())
    tied = [key for key, count in counts.items() if count == best]
    return sum(bool(correct.get(key, False)) for key in tied) / len(tied)


def maj_at_k(
    keys: Sequence[str | None],
    correct: Mapping[str, bool],
    k: int,
    *,
    max_subsets: int = MAX_SUBSETS,
    seed: int | str = 0,
) -> float:
    """Expected `vote_credit` of k samples out of `keys`: exact when C(n, k) <= max_subsets, else sampled."""
    n = len(keys)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n} k={k}")
    if math.comb(n, k) <= max_subsets:
        subsets: Iterable[Sequence[int]] = combinations(range(n), k)
    else:
        rng = random.Random(seed)
        subsets = (rng.sample(range(n), k) for _ in range(max_subsets))
    credits = [vote_credit((keys[i] for i in subset), correct) for subset in subsets]
    return statistics.fmean(credits)


def ks_for(n: int) -> tuple[int, ...]:
    """1, 2, 4, … up to n, and n itself."""
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    if n >= 1 and ks[-1] != n:
        ks.append(n)
    return tuple(ks)


def bootstrap_ci(
    values: Sequence[float], *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile interval of the mean of `values`, resampled with replacement (None when empty)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return None
    if data.size == 1 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(rounds, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, tuple[float, float]]:
    """Mean of b − a over paired values, with a bootstrap interval that resamples the pairs."""
    if len(a) != len(b) or not a:
        raise ValueError("paired_bootstrap needs two non-empty sequences of the same length")
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    ci = bootstrap_ci(diffs, rounds=rounds, seed=seed, level=level)
    assert ci is not None
    return statistics.fmean(diffs), ci


def spread(values: Sequence[float]) -> Spread:
    """Mean, sample standard deviation (0 for one value), min and max."""
    if not values:
        raise ValueError("spread of no values")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Spread(statistics.fmean(values), std, min(values), max(values), len(values))


def estimate(per_repeat: Mapping[int, Mapping[str, float]], *, seed: int = 0) -> Estimate | None:
    """Combine per-problem values of each repeat into an `Estimate`.

    The value is the mean over repeats of each repeat's mean over its problems; the interval
    resamples problems (each problem's value averaged over the repeats that have it); the spread is
    that of the repeats' means.
    """
    repeat_means = {r: statistics.fmean(v.values()) for r, v in per_repeat.items() if v}
    if not repeat_means:
        return None
    by_problem: dict[str, list[float]] = {}
    for values in per_repeat.values():
        for problem_id, value in values.items():
            by_problem.setdefault(problem_id, []).append(value)
    problem_means = [statistics.fmean(v) for v in by_problem.values()]
    means = list(repeat_means.values())
    return Estimate(
        value=statistics.fmean(means),
        ci=bootstrap_ci(problem_means, seed=seed),
        repeats=spread(means) if len(means) > 1 else None,
        problems=len(by_problem),
    )


# -- per-problem metrics ----------------------------------------------------------------------------

ProblemMetric = Callable[[ProblemView], float | None]


def _answer_correctness(problem: ProblemView) -> dict[str, bool]:
    correct: dict[str, bool] = {}
    for sample in problem.finished:
        if sample.key is not None:
            correct[sample.key] = correct.get(sample.key, False) or bool(sample.correct)
    return correct


def problem_pass_at_k(k: int) -> ProblemMetric:
    """pass@k of one problem (None without gold or with fewer than k finished samples)."""

    def metric(problem: ProblemView) -> float | None:
        done = problem.finished
        if not problem.graded or len(done) < k:
            return None
        return pass_at_k(len(done), sum(bool(s.correct) for s in done), k)

    return metric


def problem_maj_at_k(k: int, seed: int = 0) -> ProblemMetric:
    """maj@k of one problem (None without gold or with fewer than k finished samples)."""

    def metric(problem: ProblemView) -> float | None:
        done = problem.finished
        if not problem.graded or len(done) < k:
            return None
        keys = [s.key for s in done]
        return maj_at_k(keys, _answer_correctness(problem), k, seed=f"{seed}:{problem.problem_id}:{k}")

    return metric


def _accuracy(problem: ProblemView) -> float | None:
    return None if problem.correct is None else float(problem.correct)


def _per_finished_sample(value: Callable[[SampleView], float]) -> ProblemMetric:
    def metric(problem: ProblemView) -> float | None:
        done = problem.finished
        return statistics.fmean(value(s) for s in done) if done else None

    return metric


def _per_sample(value: Callable[[SampleView], float]) -> ProblemMetric:
    def metric(problem: ProblemView) -> float | None:
        return statistics.fmean(value(s) for s in problem.samples) if problem.samples else None

    return metric


def problem_metrics(ks: Sequence[int], seed: int = 0) -> dict[str, ProblemMetric]:
    """The per-problem metrics of `summarize`, by display name, in display order (pass@1 = maj@1)."""
    metrics: dict[str, ProblemMetric] = {"accuracy": _accuracy, "pass@1": problem_pass_at_k(1)}
    metrics.update({f"maj@{k}": problem_maj_at_k(k, seed) for k in ks if k > 1})
    metrics.update({f"pass@{k}": problem_pass_at_k(k) for k in ks if k > 1})
    metrics.update(
        {
            "no-answer rate": _per_finished_sample(lambda s: float(s.key is None)),
            "samples/problem": lambda p: float(len(p.samples)),
            "finished samples/problem": lambda p: float(len(p.finished)),
            "tokens/sample": _per_sample(lambda s: float(s.tokens)),
            "tokens/problem": lambda p: float(sum(s.tokens for s in p.samples)),
            "seconds/problem": lambda p: p.seconds,
            "code calls/sample": _per_sample(lambda s: float(s.code_calls)),
            "code errors/sample": _per_sample(lambda s: float(s.code_errors)),
        }
    )
    return metrics


# Which way a metric improves: costs and failures are better lower; counts of what a strategy did
# (samples, code calls) are neither better nor worse; rates of right answers are better higher.
_LOWER_IS_BETTER = frozenset(
    {"no-answer rate", "tokens/sample", "tokens/problem", "seconds/problem", "code errors/sample"}
)
_NEITHER = frozenset({"samples/problem", "finished samples/problem", "code calls/sample"})


def better_direction(name: str) -> int:
    """+1 when a higher value of metric `name` is better, -1 when a lower one is, 0 when neither."""
    return -1 if name in _LOWER_IS_BETTER else 0 if name in _NEITHER else 1


def metric_by_name(name: str, seed: int = 0) -> ProblemMetric:
    """A per-problem metric from its name: "accuracy", "pass@K", "maj@K", or any other `summarize` name."""
    kind, _, k = name.partition("@")
    if k.isdigit() and int(k) >= 1 and kind in ("pass", "maj"):
        return problem_pass_at_k(int(k)) if kind == "pass" or k == "1" else problem_maj_at_k(int(k), seed)
    metrics = problem_metrics((), seed)
    if name not in metrics:
        raise ValueError(f"unknown metric {name!r}: accuracy, pass@K, maj@K, {', '.join(list(metrics)[2:])}")
    return metrics[name]


def summarize(problems: Sequence[ProblemView], *, seed: int = 0) -> Summary:
    """Every metric of `problems` (all repeats together). maj@1 is pass@1, so only the latter is listed."""
    most = max((len(p.finished) for p in problems), default=0)
    ks = ks_for(most) if most else ()
    result: dict[str, Estimate] = {}
    for name, metric in problem_metrics(ks, seed).items():
        per_repeat: dict[int, dict[str, float]] = {}
        for problem in problems:
            value = metric(problem)
            if value is not None:
                per_repeat.setdefault(problem.repeat, {})[problem.problem_id] = value
        found = estimate(per_repeat, seed=seed)
        if found is not None:
            result[name] = found
    return Summary(
        metrics=result,
        ks=ks,
        repeats=len({p.repeat for p in problems}),
        problems=len({p.problem_id for p in problems}),
    )
