"""Datasets from a real run directory and a real trace file: selection, pairs, labels, formats, CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.data import DataError, build_rows, load_graded, resolve_preset
from aimo.data.graded import GradedProblem, GradedSample
from aimo.data.select import dedupe_problems
from aimo.solve.prompts import TIR_SYSTEM

runner = CliRunner()


def by_id(problems):
    return {p.problem_id: p for p in problems}


def test_run_directory_gives_texts_grades_and_pass_rates(graded_problems):
    problems = by_id(graded_problems)
    assert problems["prod"].text == "What is 6 times 7?"
    assert [s.correct for s in problems["prod"].samples] == [True, True, False]
    assert problems["prod"].pass_rate == pytest.approx(2 / 3)
    assert problems["pow"].pass_rate == 0.0


def test_sft_keeps_the_shortest_correct_sample_with_its_code_output(graded_problems):
    rows = list(build_rows(graded_problems, resolve_preset(None, "sft", dedupe=None)))
    answers = {r["messages"][1]["content"]: r["messages"][-1]["content"] for r in rows}
    assert answers["What is 2 + 3?"] == "2 + 3 = \\boxed{5}."
    tir = answers["What is 6 times 7?"]
    assert "```python\nprint(6 * 7)\n```\n```output\n42\n```" in tir  # as the model saw it
    assert (
        rows[[r["messages"][1]["content"] for r in rows].index("What is 6 times 7?")]["messages"][0][
            "content"
        ]
        == TIR_SYSTEM
    )
    assert "What is 2 to the power 10, minus 1000?" not in answers  # no correct sample


def test_sft_pass_rate_band_and_kinds(graded_problems):
    preset = resolve_preset(None, "sft", min_pass_rate=0.5, max_pass_rate=0.9, kinds=("cot",), dedupe=None)
    rows = list(build_rows(graded_problems, preset))
    assert len(rows) == 1
    assert rows[0]["messages"][-1]["content"].startswith("Six sevens")


def test_dpo_shorter_pairs_obey_ratio_and_minimum(graded_problems):
    rule = dict(ratio=0.5, min_tokens=20, dedupe=None)
    rows = list(build_rows(graded_problems, resolve_preset(None, "dpo", **rule)))
    # prod: 40 vs 300 tokens qualifies; sum: 12 tokens is below the minimum
    assert len(rows) == 1
    assert "```output" in rows[0]["chosen"][0]["content"]
    assert rows[0]["rejected"][0]["content"].startswith("Six sevens")
    strict = list(build_rows(graded_problems, resolve_preset(None, "dpo", ratio=0.1, dedupe=None)))
    assert strict == []


def test_correct_wrong_pairs_and_similarity_ceiling(graded_problems):
    preset = resolve_preset("correct-wrong", "dpo", dedupe=None)
    rows = list(build_rows(graded_problems, preset))
    assert {r["rejected"][0]["content"] for r in rows} == {"I guess \\boxed{41}."}
    identical = resolve_preset("correct-wrong", "dpo", dedupe=None, max_similarity=0.5)

    def all_similar(texts):
        import numpy as np

        return np.ones((len(texts), len(texts)))

    assert list(build_rows(graded_problems, identical, similarity=all_similar)) == []


def test_kto_labels_every_graded_sample_and_balances(graded_problems):
    rows = list(build_rows(graded_problems, resolve_preset("numina-kto", "kto")))
    assert [r["label"] for r in rows].count(True) == 4 and len(rows) == 8
    balanced = list(build_rows(graded_problems, resolve_preset("numina-kto", "kto", balance=True)))
    assert [r["label"] for r in balanced] == [True, False]


def test_dedupe_drops_near_identical_problems():
    def problem(pid, text):
        return GradedProblem(pid, text, "1", (GradedSample("x", "1", True, 5),))

    kept = dedupe_problems(
        [
            problem("a", "Find the number of positive integers n below 1000 such that n squared ends in 9."),
            problem("b", "Find the number of positive integers  n below 1000 such that n squared ends in 9!"),
            problem("c", "How many primes are there below 100?"),
        ]
    )
    assert [p.problem_id for p in kept] == ["a", "c"]


def test_trace_file_samples_carry_their_recorded_correctness(shared_data_dir):
    path = shared_data_dir / "traces" / "math_cot_100.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found (the shared data folder)")
    problems = load_graded(path, "math")
    assert len(problems) == 100
    assert all(p.samples and p.text for p in problems)
    assert 0.8 < sum(p.pass_rate for p in problems) / 100 < 1.0  # the file's pass@1 is 0.91


def test_cli_writes_llamafactory_rows_and_dataset_info(run_dir, tmp_path):
    out = tmp_path / "lf" / "pairs.jsonl"
    done = runner.invoke(
        app,
        [
            "data",
            "dpo",
            str(run_dir),
            "-o",
            str(out),
            "--preset",
            "correct-wrong",
            "--format",
            "llamafactory",
        ],
    )
    assert done.exit_code == 0, done.output
    row = json.loads(out.read_text().splitlines()[0])
    assert row["chosen"]["role"] == "assistant" and row["messages"][-1]["role"] == "user"
    info = json.loads((out.parent / "dataset_info.json").read_text())
    assert info["pairs"]["ranking"] is True and info["pairs"]["columns"]["chosen"] == "chosen"


@pytest.mark.parametrize("command", ["sft", "kto", "grpo"])
def test_cli_builds_each_dataset_from_a_run_directory(run_dir, tmp_path, command):
    out = tmp_path / f"{command}.jsonl"
    done = runner.invoke(app, ["data", command, str(run_dir), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_text().count("\n") >= 1


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="no such run directory"):
        load_graded(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="not an aimo eval run directory"):
        load_graded(tmp_path)
    with pytest.raises(DataError, match="unknown preset"):
        resolve_preset("nope", "sft")
    with pytest.raises(DataError, match="makes a dpo dataset"):
        resolve_preset("aimo2-dpo", "sft")
