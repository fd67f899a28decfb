"""Datasets and trace reference scores; competition scores and the offline estimate's inputs."""

from __future__ import annotations

import pytest

from aimo.engines.traces import TraceProblem, TraceSample
from aimo.evaluate.competition import as_replayed, order_scores, summarize_competition
from aimo.evaluate.datasets import problems_from_rows, reference_scores, resolve_dataset
from aimo.evaluate.rundir import EvalRecord
from aimo.problems import FieldNames
from aimo.solve.types import ProblemResult


def test_rows_of_a_hub_dataset_become_problems():
    rows = [
        {"unique_id": "x/1", "problem": "1+1?", "answer": 2, "level": 1},
        {"unique_id": "x/2", "problem": "?"},
    ]
    problems = problems_from_rows(rows, FieldNames(), "hub")
    assert [(p.id, p.answer) for p in problems] == [("x/1", "2"), ("x/2", None)]
    assert problems[0].meta == {"level": 1}
    named = problems_from_rows(
        [{"problem_idx": 7, "problem": "q", "answer": "5"}], FieldNames(id="problem_idx"), "h"
    )
    assert named[0].id == "7"


def test_reference_scores_need_every_sample_scored():
    scored = [
        TraceProblem("a", "", "1", tuple(TraceSample(answer=x, meta={"correct": x == "1"}) for x in "1121")),
        TraceProblem("b", "", "2", tuple(TraceSample(answer=x, meta={"correct": x == "2"}) for x in "3332")),
    ]
    assert reference_scores(scored) == {"pass@1": pytest.approx(0.5), "maj@4": 0.5}
    assert reference_scores([TraceProblem("c", "", "1", (TraceSample(answer="1"),))]) == {}


def test_a_problem_file_dataset(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text("id,problem,answer\nq1,What?,3\n")
    dataset = resolve_dataset(str(path))
    assert (dataset.name, dataset.kind, dataset.describe()["problems"]) == ("set", "file", 1)


def record(repeat: int, pid: str, correct: bool, elapsed: float, stop: str = "all_finished") -> EvalRecord:
    result = ProblemResult(pid, "1" if correct else "2", {}, [], stop, 1.0, gold="1", correct=correct)
    return EvalRecord(repeat, 0, result, elapsed)


def test_order_scores_and_their_spread():
    records = [
        record(0, "a", True, 3.0),
        record(0, "b", False, 9.0, "deadline"),
        record(1, "a", True, 4.0),
        record(1, "b", True, 12.0),
    ]
    scores = order_scores(records, lambda r: bool(r.result.correct))
    assert [(s.score, s.graded, s.elapsed_s, s.deadline_stops) for s in scores] == [
        (1, 2, 9.0, 1),
        (2, 2, 12.0, 0),
    ]
    summary = summarize_competition(scores, budget_s=10.0)
    assert summary is not None and summary.score.mean == 1.5 and summary.overruns == 1
    assert summarize_competition([], 10.0) is None


def test_text_samples_are_estimated_as_the_replay_plays_them():
    problem = TraceProblem(
        "p",
        "",
        "7",
        (
            TraceSample(text="x" * 400 + " so \\boxed{7}", answer="8"),
            TraceSample(answer="9", completion_tokens=50),
        ),
    )
    replayed = as_replayed([problem])[0]
    assert replayed.samples[0].answer == "7" and replayed.samples[0].completion_tokens == 104
    assert replayed.samples[1] == problem.samples[1]
