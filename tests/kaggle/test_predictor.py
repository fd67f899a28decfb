"""make_predict over a real run: replayed answers, and errors that must not sink a submission."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from kaggle_files import write_config

from aimo.engines.traces import TraceProblem, TraceSample, write_traces
from aimo.kaggle.predictor import make_predict, run_settings
from aimo.solve.records import read_records

# (sample answers): the voted answer of p2 is out of AIMO-2's range, p3 never answers.
RECORDED = {"p1": ["12", "12", "7"], "p2": ["1234", "1234", "56"], "p3": [None, None, None]}


def replay_config(tmp_path: Path) -> Path:
    traces = tmp_path / "traces.jsonl"
    write_traces(
        traces,
        [
            TraceProblem(pid, f"Problem {pid}?", None, tuple(TraceSample(answer=a) for a in answers))
            for pid, answers in RECORDED.items()
        ],
    )
    return write_config(
        tmp_path / "run.toml",
        {
            "engine": {"engine": "replay", "traces": str(traces)},
            "strategy": {"samples": 3},
            "budget": {"planner": False},  # all three recorded samples play, whatever the planner would plan
            "kaggle": {
                "competition": "aimo2",
                "problems": 3,
                "fallback_answer": 5,
                "log": str(tmp_path / "log.jsonl"),
            },
        },
    )


def test_predict_answers_one_row_per_problem_and_logs_each_answer_as_it_comes(tmp_path: Path):
    predict = make_predict(replay_config(tmp_path))
    log = tmp_path / "log.jsonl"
    try:
        frames = []
        for pid in RECORDED:
            frames.append(predict(pl.Series("id", [pid]), pl.Series("problem", [f"Problem {pid}?"])))
            assert [r["problem_id"] for r in read_records(log)] == [*RECORDED][: len(frames)]
    finally:
        predict.close()
    assert all(frame.shape == (1, 2) and frame.columns == ["id", "answer"] for frame in frames)
    assert [frame.row(0) for frame in frames] == [("p1", 12), ("p2", 56), ("p3", 5)]
    records = list(read_records(log))
    assert [r["submitted"] for r in records] == [12, 56, 5]
    assert records[1]["answer"] == "1234"  # the vote is kept; what was submitted is beside it
    assert all(len(r["samples"]) == 3 for r in records)


def test_the_whole_run_budget_defaults_to_the_limit_minus_the_margin(tmp_path: Path):
    from aimo.config import RunConfig

    config = RunConfig.from_dict({"kaggle": {"time_limit_s": 1000, "margin_s": 100}})
    assert run_settings(config).budget.total_s == 900
    config = RunConfig.from_dict({"kaggle": {"time_limit_s": 1000}, "budget": {"total_s": 300}})
    assert run_settings(config).budget.total_s == 300


def test_an_engine_that_cannot_load_gives_fallback_answers_and_says_why(tmp_path: Path, capsys):
    config = write_config(
        tmp_path / "run.toml",
        {
            "engine": {"engine": "llamacpp", "model": str(tmp_path / "missing.gguf")},
            "kaggle": {"fallback_answer": 7, "log": str(tmp_path / "log.jsonl")},
        },
    )
    predict = make_predict(config)
    try:
        frame = predict(pl.Series("id", ["a"]), pl.Series("problem", ["What is 1 + 1?"]))
    finally:
        predict.close()
    assert frame.row(0) == ("a", 7)
    [record] = read_records(tmp_path / "log.jsonl")
    assert record["stop_reason"] == "error" and "missing.gguf" in record["meta"]["error"]
    assert "problem a:" in capsys.readouterr().err


def test_a_log_from_an_earlier_session_is_continued_not_refused(tmp_path: Path):
    config = replay_config(tmp_path)
    for _ in range(2):
        predict = make_predict(config)
        try:
            predict("p1", "Problem p1?")
        finally:
            predict.close()
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["submitted"] for line in lines] == [12, 12]
