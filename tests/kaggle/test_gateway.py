"""aimo's local gateway against the competition's rules, driven by a plain predict function."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from kaggle_files import write_csv

from aimo.kaggle.gateway import GatewayError, run_gateway

PROBLEMS = [(f"q{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(8)]


class Recorder:
    """A predict that answers 2i for "What is i + i?" (wrong on q7) and records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], list[list[object]]]] = []

    def __call__(self, *columns: pl.Series) -> pl.DataFrame:
        self.calls.append((tuple(c.name for c in columns), [c.to_list() for c in columns]))
        problem_id, text = columns[0].item(), columns[1].item()
        answer = 2 * int(text.split()[2]) + (problem_id == "q7")
        return pl.DataFrame({"id": [problem_id], "answer": [answer]})


def test_each_problem_is_one_call_with_one_single_row_series_per_column(tmp_path: Path):
    predict = Recorder()
    report = run_gateway(predict, write_csv(tmp_path / "test.csv", PROBLEMS), tmp_path, seed=1)
    assert len(predict.calls) == len(PROBLEMS)
    assert all(names == ("id", "problem", "answer") for names, _ in predict.calls)
    assert all(len(values) == 1 for _, columns in predict.calls for values in columns)
    assert sorted(values[0][0] for _, values in predict.calls) == sorted(p[0] for p in PROBLEMS)
    assert report.problems == len(PROBLEMS)


def test_problems_come_shuffled_unless_told_not_to(tmp_path: Path):
    csv = write_csv(tmp_path / "test.csv", PROBLEMS)
    in_file = [p[0] for p in PROBLEMS]
    orders = []
    for seed in range(3):
        predict = Recorder()
        run_gateway(predict, csv, tmp_path, seed=seed)
        orders.append([values[0][0] for _, values in predict.calls])
    assert any(order != in_file for order in orders)
    predict = Recorder()
    run_gateway(predict, csv, tmp_path, shuffle=False)
    assert [values[0][0] for _, values in predict.calls] == in_file


def test_the_submission_parquet_holds_every_answer_and_the_score_counts_gold(tmp_path: Path):
    report = run_gateway(Recorder(), write_csv(tmp_path / "test.csv", PROBLEMS), tmp_path / "out")
    submission = pl.read_parquet(tmp_path / "out" / "submission.parquet")
    assert submission.schema == pl.Schema({"id": pl.String, "answer": pl.Int64})
    assert dict(submission.iter_rows()) == {f"q{i}": 2 * i + (i == 7) for i in range(8)}
    assert (report.correct, report.graded) == (7, 8)
    assert report.within_limit
    assert "score: 7/8" in report.summary()


def test_without_gold_there_is_no_score(tmp_path: Path):
    csv = write_csv(tmp_path / "test.csv", [(i, t, None) for i, t, _ in PROBLEMS[:2]])
    predict = Recorder()
    report = run_gateway(predict, csv, tmp_path)
    assert report.correct is None and "score" not in report.summary()
    assert all(names == ("id", "problem") for names, _ in predict.calls)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"id": ["q0", "q0"], "answer": [0, 0]}), "2 rows"),
        (pl.DataFrame({"id": ["q0"], "value": [0]}), "id and answer columns"),
        (pl.DataFrame({"id": ["other"], "answer": [0]}), "answered id 'other'"),
        (pl.DataFrame({"id": ["q0"], "answer": [1.5]}), "not an integer"),
        ({"id": "q0", "answer": 0}, "not a DataFrame"),
    ],
)
def test_a_prediction_the_competition_would_reject_stops_the_run(tmp_path: Path, frame, message):
    csv = write_csv(tmp_path / "test.csv", PROBLEMS[:1])
    with pytest.raises(GatewayError, match=message):
        run_gateway(lambda *columns: frame, csv, tmp_path)


def test_answers_before_a_rejected_prediction_stay_in_the_submission(tmp_path: Path):
    good = Recorder()

    def predict(*columns: pl.Series) -> pl.DataFrame:
        if columns[0].item() == "q2":
            return pl.DataFrame({"id": ["q2", "q2"], "answer": [4, 4]})
        return good(*columns)

    with pytest.raises(GatewayError):
        run_gateway(predict, write_csv(tmp_path / "test.csv", PROBLEMS[:4]), tmp_path, shuffle=False)
    assert pl.read_parquet(tmp_path / "submission.parquet").get_column("id").to_list() == ["q0", "q1"]


def test_a_test_file_without_a_problem_column_is_a_clear_error(tmp_path: Path):
    csv = tmp_path / "bad.csv"
    csv.write_text("id,question\na,b\n")
    with pytest.raises(GatewayError, match="no problem column"):
        run_gateway(Recorder(), csv, tmp_path)
    with pytest.raises(GatewayError, match="cannot read"):
        run_gateway(Recorder(), tmp_path / "missing.csv", tmp_path)
