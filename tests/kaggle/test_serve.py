"""`serve`: Kaggle's server class when `kaggle_evaluation` imports (a stand-in package here, since Kaggle's
is not redistributable), aimo's gateway otherwise; a rehearsal plans for the problems its file holds."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from kaggle_files import write_csv
from test_predictor import RECORDED, replay_config

from aimo.config import RunConfig
from aimo.kaggle.server import planned_for, serve
from aimo.solve.records import read_records

STAND_IN = """
import polars as pl

calls = []


class AIMO2InferenceServer:
    def __init__(self, predict):
        self.predict = predict

    def serve(self):
        calls.append(("serve",))
        calls.append(("answer", self.predict(pl.Series("id", ["p1"]), pl.Series("problem", ["Problem p1?"]))))

    def run_local_gateway(self, data_paths):
        calls.append(("local", data_paths))
"""


@pytest.fixture()
def kaggle_evaluation(tmp_path: Path, monkeypatch):
    package = tmp_path / "stand_in" / "kaggle_evaluation"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "aimo_2_inference_server.py").write_text(STAND_IN)
    monkeypatch.syspath_prepend(str(package.parent))
    yield
    for name in [m for m in sys.modules if m.startswith("kaggle_evaluation")]:
        del sys.modules[name]


def test_on_a_rerun_kaggles_server_serves_aimos_predict(tmp_path, kaggle_evaluation, monkeypatch):
    monkeypatch.setenv("KAGGLE_IS_COMPETITION_RERUN", "1")
    assert serve(replay_config(tmp_path)) is None
    from kaggle_evaluation.aimo_2_inference_server import calls

    assert calls[0] == ("serve",)
    assert calls[1][1].row(0) == ("p1", 12)
    [record] = read_records(tmp_path / "log.jsonl")
    assert record["submitted"] == 12


def test_off_the_rerun_kaggles_own_local_gateway_gets_the_test_file(tmp_path, kaggle_evaluation, monkeypatch):
    monkeypatch.delenv("KAGGLE_IS_COMPETITION_RERUN", raising=False)
    csv = write_csv(tmp_path / "test.csv", [("p1", "Problem p1?", "12")])
    serve(replay_config(tmp_path), csv)
    from kaggle_evaluation.aimo_2_inference_server import calls

    assert calls == [("local", (str(csv),))]


def test_without_kaggle_evaluation_aimos_gateway_runs_on_the_test_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv = write_csv(tmp_path / "test.csv", [(pid, f"Problem {pid}?", "12") for pid in RECORDED])
    report = serve(replay_config(tmp_path), csv)
    assert report is not None and (report.problems, report.correct, report.graded) == (3, 1, 3)
    assert pl.read_parquet(tmp_path / "submission.parquet").height == 3
    assert len(list(read_records(tmp_path / "log.jsonl"))) == 3


def test_a_rehearsal_plans_for_the_problems_its_file_holds(tmp_path):
    config = RunConfig.from_dict({"kaggle": {"problems": 50}})
    csv = write_csv(tmp_path / "test.csv", [("a", "x", None), ("b", "y", None)])
    assert planned_for(config, csv).kaggle.problems == 2
    assert planned_for(config, tmp_path / "missing.csv").kaggle.problems == 50
