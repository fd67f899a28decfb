"""`aimo grade` and `aimo bench answers` on real files, through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aimo.bench.answers import HOSTILE, KINDS, bench_answers, time_hostile_grading, trace_agreement
from aimo.bench.result import BenchResult
from aimo.cli.app import main


def run_aimo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["aimo", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


ROWS = [
    {"id": "a", "model_output": r"so \boxed{1{,}000}.", "gold": "1000"},
    {"id": "b", "model_output": r"we get \boxed{41.5}", "gold": 41},
    {"id": "c", "model_output": "I am not sure, maybe 5 or 7.", "gold": "5"},
    {"id": "d", "model_output": r"The final answer is $\dfrac{1}{2}$.", "gold": "0.5", "extra": [1, 2]},
    {"id": "e", "model_output": r"\boxed{[1, 3)}", "gold": r"[1,3)"},
]


def test_grade_writes_pred_and_correct_and_passes_fields_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    code, stdout, _ = run_aimo(monkeypatch, capsys, "grade", str(source), "--output", str(out))
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["pred"], r["correct"]) for r in rows] == [
        ("a", "1000", True),
        ("b", r"\frac{83}{2}", False),
        ("c", None, False),
        ("d", r"\frac{1}{2}", True),
        ("e", "[1,3)", True),
    ]
    assert rows[3]["extra"] == [1, 2] and rows[1]["gold"] == 41
    assert "accuracy: 0.6000 (3/5)" in stdout and "no answer: 1" in stdout


def test_grade_integer_mode_rejects_non_integer_gold_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"model_output": r"\boxed{0.5}", "gold": r"\frac12"}])
    out = tmp_path / "out.jsonl"
    assert (
        run_aimo(monkeypatch, capsys, "grade", str(source), "--mode", "integer", "--output", str(out))[0] == 0
    )
    assert json.loads(out.read_text())["correct"] is False
    assert run_aimo(monkeypatch, capsys, "grade", str(source), "--mode", "math", "--output", str(out))[0] == 0
    assert json.loads(out.read_text())["correct"] is True


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"model_output": "x"}\n', "in.jsonl:1: missing field gold"),
        ('{"model_output": "x", "gold": "1"}\nnot json\n', "in.jsonl:2: invalid JSON"),
        ("[1, 2]\n", "in.jsonl:1: expected a JSON object"),
        ('{"model_output": 5, "gold": "1"}\n', "model_output must be a string"),
        ('{"model_output": "x", "gold": null}\n', "gold must be a string or a number"),
    ],
)
def test_malformed_input_is_one_line_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(content)
    code, _, stderr = run_aimo(monkeypatch, capsys, "grade", str(source))
    assert code == 2
    assert message in stderr and stderr.startswith("aimo: error:") and stderr.count("\n") == 1


def test_missing_file_through_the_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("aimo")
    if not script.exists():
        pytest.skip("the aimo console script is not installed: pip install -e .")
    proc = subprocess.run(
        [str(script), "grade", str(tmp_path / "nope.jsonl")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"aimo: error: {tmp_path / 'nope.jsonl'}: no such file"


def test_bench_answers_command_writes_a_bench_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    missing = tmp_path / "no_traces.jsonl"
    args = [
        "bench",
        "answers",
        "--sizes",
        "1000,10000",
        "--repeats",
        "1",
        "--json",
        str(out),
        "--traces",
        str(missing),
        "--grading-timeout",
        "0",
    ]
    code, stdout, _ = run_aimo(monkeypatch, capsys, *args)
    assert code == 0 and "aimo bench answers" in stdout
    result = BenchResult.read(out)
    assert result.name == "answers" and len(result.rows) == 2 * len(KINDS)
    assert {row["kind"] for row in result.rows} == set(KINDS)
    assert "adversarial_throughput_10000_vs_1000" in result.ratios
    assert any("traces skipped" in note for note in result.notes)


def test_hostile_grading_ends_with_no_false_verdict() -> None:
    timings = time_hostile_grading(HOSTILE[:3], timeout_s=1.0)
    assert [expression for expression, _, _ in timings] == list(HOSTILE[:3])
    assert not any(verdict for _, _, verdict in timings)


def test_bench_rejects_bad_sizes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_aimo(monkeypatch, capsys, "bench", "answers", "--sizes", "10k")
    assert code == 2 and "--sizes" in stderr


def test_agreement_with_qwen_math_traces(shared_data_dir: Path) -> None:
    traces = shared_data_dir / "traces" / "math_cot_100.jsonl"
    if not traces.exists():
        pytest.skip(f"{traces} not found: see ../shared/data/README.md")
    agreement = trace_agreement(traces)
    assert agreement.samples == 800
    assert agreement.score_same >= 790
    result = bench_answers(sizes=(1000,), repeats=1, traces=traces, grading_timeout_s=None)
    assert result.ratios["traces_score_agreement"] == agreement.score_same / 800
