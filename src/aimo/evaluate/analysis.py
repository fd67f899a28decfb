"""Everything a report shows about one run, computed once from its directory."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimo.evaluate.answerpos import AnswerPositions, answer_positions
from aimo.evaluate.competition import CompetitionSummary, order_scores, summarize_competition
from aimo.evaluate.metrics import ProblemView, Summary, summarize
from aimo.evaluate.outcomes import Grader, is_finished, problem_views
from aimo.evaluate.rundir import EvalRecord, RunDir

ESTIMATE_FILE = "estimate.json"


@dataclass(frozen=True)
class ProblemRow:
    """One problem over all repeats, for the per-problem table."""

    problem_id: str
    gold: str | None
    answers: tuple[str | None, ...]  # the voted answer of each repeat
    accuracy: float | None  # share of repeats answered right
    pass1: float | None
    tokens: float  # mean tokens per repeat
    seconds: float  # mean seconds per repeat
    stop_reasons: tuple[str, ...]


@dataclass
class Analysis:
    """A run's records, graded, with its metrics and the data of each chart."""

    run: RunDir
    records: list[EvalRecord]
    views: list[ProblemView]
    summary: Summary
    per_repeat: dict[int, dict[str, float]]
    positions: dict[str, AnswerPositions]
    tokens_by_outcome: dict[str, list[float]]
    problems: list[ProblemRow]
    code_calls: list[int]
    competition: CompetitionSummary | None = None
    estimate: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def reference(self) -> dict[str, float]:
        """The trace file's own scores (pass@1, maj@n) when it recorded them."""
        return dict(self.run.info.dataset.get("reference") or {})


def analyze(run: RunDir, *, seed: int = 0) -> Analysis:
    """Grade a run's samples and compute every metric and chart of its report."""
    records = run.records()
    grader = Grader(run.info.config.strategy.answer_mode)
    views = problem_views(records, grader)
    summary = summarize(views, seed=seed)
    analysis = Analysis(
        run=run,
        records=records,
        views=views,
        summary=summary,
        per_repeat=_per_repeat(views, summary),
        positions=_positions(records, grader),
        tokens_by_outcome=_tokens_by_outcome(views),
        problems=_problem_rows(records, views),
        code_calls=[len(s.code_runs) for r in records for s in r.result.samples],
    )
    if run.info.mode == "competition" and run.info.config.budget.total_s is not None:
        views_by_key = {(v.repeat, v.problem_id): v for v in views}
        scores = order_scores(records, lambda r: bool(views_by_key[(r.repeat, r.result.problem_id)].correct))
        analysis.competition = summarize_competition(scores, run.info.config.budget.total_s)
    analysis.estimate = load_estimate(run.path)
    missing = len(run.info.problem_ids) * run.info.repeats - len(records)
    if missing > 0:
        analysis.notes.append(f"{missing} (repeat, problem) pairs are not finished yet: resume the run")
    return analysis


def _per_repeat(views: Sequence[ProblemView], summary: Summary) -> dict[int, dict[str, float]]:
    """Headline metrics of each repeat on its own (accuracy, pass@1, maj@n)."""
    result: dict[int, dict[str, float]] = {}
    for repeat in sorted({v.repeat for v in views}):
        one = summarize([v for v in views if v.repeat == repeat])
        names = ["accuracy", "pass@1", *([summary.top_maj] if summary.top_maj else [])]
        result[repeat] = {n: one.metrics[n].value for n in names if n in one.metrics}
    return result


def _positions(records: Sequence[EvalRecord], grader: Grader) -> dict[str, AnswerPositions]:
    groups: dict[str, list[tuple[str, str | None, int]]] = {"correct": [], "wrong": []}
    for record in records:
        gold = record.result.gold
        for sample in record.result.samples:
            if not is_finished(sample) or sample.answer is None:
                continue
            outcome = "correct" if gold is not None and grader(sample.answer, gold) else "wrong"
            groups[outcome].append((sample.text, sample.answer, sample.completion_tokens))
    positions = {name: answer_positions(triples) for name, triples in groups.items()}
    positions["all"] = answer_positions(groups["correct"] + groups["wrong"])
    return positions


def _tokens_by_outcome(views: Sequence[ProblemView]) -> dict[str, list[float]]:
    tokens: dict[str, list[float]] = {"correct": [], "wrong": [], "no answer": []}
    for view in views:
        for sample in view.finished:
            if sample.key is None:
                tokens["no answer"].append(sample.tokens)
            elif sample.correct is not None:
                tokens["correct" if sample.correct else "wrong"].append(sample.tokens)
    return tokens


def _problem_rows(records: Sequence[EvalRecord], views: Sequence[ProblemView]) -> list[ProblemRow]:
    by_id: dict[str, list[tuple[EvalRecord, ProblemView]]] = {}
    for record, view in zip(records, views, strict=True):
        by_id.setdefault(view.problem_id, []).append((record, view))
    rows = []
    for problem_id, pairs in by_id.items():
        graded = [v for _, v in pairs if v.correct is not None]
        pass1 = [sum(bool(s.correct) for s in v.finished) / len(v.finished) for v in graded if v.finished]
        rows.append(
            ProblemRow(
                problem_id=problem_id,
                gold=pairs[0][0].result.gold,
                answers=tuple(r.result.answer for r, _ in pairs),
                accuracy=statistics.fmean(bool(v.correct) for v in graded) if graded else None,
                pass1=statistics.fmean(pass1) if pass1 else None,
                tokens=statistics.fmean(sum(s.tokens for s in v.samples) for _, v in pairs),
                seconds=statistics.fmean(v.seconds for _, v in pairs),
                stop_reasons=tuple(r.result.stop_reason for r, _ in pairs),
            )
        )
    return rows


def load_estimate(path: Path) -> dict[str, Any] | None:
    """A run's offline competition estimate, if it has one."""
    file = path / ESTIMATE_FILE
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None
