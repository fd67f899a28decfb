"""`aimo bench compare`: rows matched by key, ratio columns, differences listed; the bench group's shape."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aimo.bench.ratios import compare, key_columns, ratio
from aimo.bench.result import BenchResult
from aimo.cli.app import app


def engine_result(rates: dict[int, float], max_tokens: int = 512, host: str = "a") -> BenchResult:
    rows = [{"concurrency": c, "tok/s": t, "ttft p50 s": 0.1 * c, "gain": None} for c, t in rates.items()]
    machine = {"hostname": host, "cpus": 2, "processor": "x86_64", "platform": "linux", "aimo": "0.1.0"}
    return BenchResult(
        "engine", settings={"max_tokens": max_tokens}, rows=rows, ratios={"peak tok/s": max(rates.values())},
        machine=machine,
    )  # fmt: skip


def test_rows_are_paired_by_their_first_column_with_ratio_columns():
    a = engine_result({1: 10.0, 2: 18.0, 4: 30.0})
    b = engine_result({1: 20.0, 2: 27.0, 8: 60.0}, max_tokens=256, host="b")
    result = compare(a, b)
    assert result.settings["key"] == ["concurrency"]
    assert [row["concurrency"] for row in result.rows] == [1, 2]
    first = result.rows[0]
    assert (first["tok/s A"], first["tok/s B"], first["tok/s B/A"]) == (10.0, 20.0, 2.0)
    assert first["ttft p50 s B/A"] == pytest.approx(1.0)
    assert "gain A" not in first  # a column with no numbers is left out
    assert result.ratios["peak tok/s B/A"] == 2.0
    notes = "\n".join(result.notes)
    assert "rows only in A: 4" in notes and "rows only in B: 8" in notes
    assert "settings differ: max_tokens = 512 (A) vs 256 (B)" in notes
    assert "machine differ: hostname" in notes


def test_a_key_of_several_columns_when_the_first_repeats():
    rows = [{"kind": k, "chars": n, "ms": 1.0} for k in ("box", "none") for n in (10, 100)]
    assert key_columns(rows, rows) == ["kind", "chars"]
    doubled = [{**row, "ms": 2.0} for row in rows]
    result = compare(BenchResult("answers", rows=rows), BenchResult("answers", rows=doubled))
    assert len(result.rows) == 4 and all(row["ms B/A"] == 2.0 for row in result.rows)


def test_only_the_chosen_columns_and_safe_ratios():
    a, b = engine_result({1: 10.0}), engine_result({1: 0.0})
    result = compare(a, b, columns=["tok/s"])
    assert set(result.rows[0]) == {"concurrency", "tok/s A", "tok/s B", "tok/s B/A"}
    assert ratio(0.0, 1.0) is None and ratio(None, 1.0) is None and ratio(float("nan"), 1.0) is None
    assert ratio(2.0, 1.0) == 0.5


def test_compare_command_reads_two_results_and_writes_json(tmp_path):
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    engine_result({1: 10.0, 2: 15.0}).write(a)
    engine_result({1: 12.0, 2: 30.0}).write(b)
    done = CliRunner().invoke(app, ["bench", "compare", str(a), str(b), "--json", str(out)])
    assert done.exit_code == 0, done.output
    assert "compare engine" in done.output
    data = json.loads(out.read_text())
    assert [row["tok/s B/A"] for row in data["rows"]] == [1.2, 2.0]


def test_compare_command_refuses_a_file_that_is_not_a_result(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    done = CliRunner().invoke(app, ["bench", "compare", str(bad), str(bad)])
    assert done.exit_code != 0


@pytest.mark.parametrize("name", ["engine", "harness", "compare", "sandbox", "answers"])
def test_every_benchmark_is_in_the_bench_group_with_a_json_option(name):
    done = CliRunner().invoke(app, ["bench", name, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "--json" in done.output


def test_doctor_is_registered():
    done = CliRunner().invoke(app, ["doctor", "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0 and "--strategy" in done.output
