"""`aimo compare`: two runs on the same problems, paired: the difference, its interval, what flipped."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from aimo.evaluate.metrics import ProblemView, better_direction, metric_by_name, paired_bootstrap
from aimo.evaluate.outcomes import Grader, problem_views
from aimo.evaluate.rundir import RunDir


@dataclass(frozen=True)
class ProblemDelta:
    """One problem's metric in run A and in run B (each the mean over that run's repeats)."""

    problem_id: str
    a: float
    b: float


@dataclass(frozen=True)
class Comparison:
    """B against A on the problems both have a value for."""

    metric: str
    a_name: str
    b_name: str
    common: int
    only_a: int
    only_b: int
    a_mean: float
    b_mean: float
    diff: float
    ci: tuple[float, float]
    higher: tuple[ProblemDelta, ...]  # problems where B's value is higher, largest difference first
    lower: tuple[ProblemDelta, ...]  # problems where B's value is lower, largest difference first


class CompareError(ValueError):
    """Two runs with no problem in common."""


def per_problem(views: Sequence[ProblemView], metric: str, seed: int = 0) -> dict[str, float]:
    """Each problem's value of `metric`, averaged over the repeats that have one."""
    compute = metric_by_name(metric, seed)
    values: dict[str, list[float]] = {}
    for view in views:
        value = compute(view)
        if value is not None:
            values.setdefault(view.problem_id, []).append(value)
    return {problem_id: statistics.fmean(v) for problem_id, v in values.items()}


def compare_values(
    a: dict[str, float],
    b: dict[str, float],
    *,
    metric: str,
    names: tuple[str, str] = ("A", "B"),
    seed: int = 0,
) -> Comparison:
    """Paired comparison of per-problem values (only problems in both count)."""
    common = [problem_id for problem_id in a if problem_id in b]
    if not common:
        raise CompareError(f"the runs have no problem with a {metric} value in common")
    xs, ys = [a[p] for p in common], [b[p] for p in common]
    diff, ci = paired_bootstrap(xs, ys, seed=seed)
    deltas = [ProblemDelta(p, a[p], b[p]) for p in common]
    return Comparison(
        metric=metric,
        a_name=names[0],
        b_name=names[1],
        common=len(common),
        only_a=len(a) - len(common),
        only_b=len(b) - len(common),
        a_mean=statistics.fmean(xs),
        b_mean=statistics.fmean(ys),
        diff=diff,
        ci=ci,
        higher=tuple(sorted((d for d in deltas if d.b > d.a), key=lambda d: d.a - d.b)),
        lower=tuple(sorted((d for d in deltas if d.b < d.a), key=lambda d: d.b - d.a)),
    )


def compare_runs(a: RunDir, b: RunDir, metric: str = "accuracy", seed: int = 0) -> Comparison:
    """Compare two run directories on `metric` (each graded with its own answer mode)."""
    values = []
    for run in (a, b):
        views = problem_views(run.records(), Grader(run.info.config.strategy.answer_mode))
        values.append(per_problem(views, metric, seed))
    return compare_values(values[0], values[1], metric=metric, names=(str(a.path), str(b.path)), seed=seed)


def render_comparison(c: Comparison, limit: int = 50) -> str:
    """The comparison as Markdown."""

    def pct(value: float) -> str:
        return f"{value:+.1%}" if c.metric.startswith(("accuracy", "pass@", "maj@")) else f"{value:+.3g}"

    def val(value: float) -> str:
        return pct(value).lstrip("+")

    lines = [
        f"# {c.metric}: B against A on {c.common} common problems",
        "",
        f"- A: `{c.a_name}`: {val(c.a_mean)}",
        f"- B: `{c.b_name}`: {val(c.b_mean)}",
        f"- **B − A = {pct(c.diff)}** (95% paired bootstrap interval {pct(c.ci[0])} to {pct(c.ci[1])})",
    ]
    if c.only_a or c.only_b:
        lines.append(f"- left out: {c.only_a} problems only in A, {c.only_b} only in B")
    direction = better_direction(c.metric)
    sections = [("Higher", c.higher), ("Lower", c.lower)]  # a metric with no better side
    if direction:
        better, worse = (c.higher, c.lower) if direction > 0 else (c.lower, c.higher)
        sections = [("Better", better), ("Worse", worse)]
    for title, deltas in ((f"{word} in B ({len(deltas)})", deltas) for word, deltas in sections):
        lines += ["", f"## {title}", ""]
        if not deltas:
            lines.append("none")
            continue
        lines += ["| problem | A | B |", "|---|---:|---:|"]
        lines += [f"| {d.problem_id} | {val(d.a)} | {val(d.b)} |" for d in deltas[:limit]]
        if len(deltas) > limit:
            lines.append(f"| … {len(deltas) - limit} more | | |")
    return "\n".join(lines) + "\n"
