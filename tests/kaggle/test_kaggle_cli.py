"""`aimo kaggle gateway` through the real command line on the tiny llama.cpp model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
from kaggle_files import write_config, write_csv

from aimo.solve.records import read_records


def test_gateway_rehearses_a_submission_with_a_real_engine_and_prints_the_score(tiny_model, tmp_path: Path):
    csv = write_csv(tmp_path / "test.csv", [(f"q{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(3)])
    config = write_config(
        tmp_path / "run.toml",
        {
            "engine": {"model": str(tiny_model)},
            "kaggle": {"fallback_answer": 11, "problems": 3, "log": str(tmp_path / "log.jsonl")},
        },
    )
    done = subprocess.run(
        [sys.executable, "-m", "aimo", "kaggle", "gateway", str(csv), "-c", str(config), "-o", str(tmp_path),
         "--samples", "2", "--max-tokens", "16", "--time-budget", "20"],
        capture_output=True, text=True, timeout=300, env=os.environ,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "score: " in done.stdout and "/3" in done.stdout, done.stdout
    submission = pl.read_parquet(tmp_path / "submission.parquet")
    assert sorted(submission.get_column("id").to_list()) == ["q0", "q1", "q2"]
    assert all(0 <= a <= 99_999 for a in submission.get_column("answer").to_list())
    records = list(read_records(tmp_path / "log.jsonl"))
    assert [r["submitted"] for r in records] == [
        dict(submission.iter_rows())[r["problem_id"]] for r in records
    ]
    assert all(r["samples"] for r in records)  # the engine really ran


def test_gateway_on_a_missing_file_is_a_one_line_error(tmp_path: Path):
    config = write_config(
        tmp_path / "run.toml", {"engine": {"engine": "replay", "traces": str(tmp_path / "t.jsonl")}}
    )
    done = subprocess.run(
        [sys.executable, "-m", "aimo", "kaggle", "gateway", str(tmp_path / "none.csv"), "-c", str(config)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("aimo: error: cannot read the test file")
