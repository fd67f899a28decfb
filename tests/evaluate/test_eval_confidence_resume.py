"""A resumed `aimo eval` or `aimo solve -o` with a run-wide DeepConf threshold keeps the threshold its
first part set."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.engines.traces import TraceProblem, TraceSample, write_traces

SURE = [-0.01, -6.0, -7.0]
UNSURE = [-0.7, -0.8, -1.0]
runner = CliRunner()


def _recorded(answer: str, position: list[float], tokens: int = 40) -> TraceSample:
    text = "x " * 30 + f"so \\boxed{{{answer}}}"
    return TraceSample(text=text, completion_tokens=tokens, meta={"logprobs": [position] * tokens})


def _run(*args: str) -> None:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _drop_problem(paths: list[Path], problem_id: str) -> None:
    """What a kill leaves when it comes before `problem_id` finished: none of its lines."""
    for path in paths:
        kept = [x for x in path.read_text().splitlines() if json.loads(x)["problem_id"] != problem_id]
        path.write_text("".join(line + "\n" for line in kept))


def _lines(path: Path, problem_id: str) -> list[dict]:
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    return [r for r in rows if r["problem_id"] == problem_id]


def _online_config(tmp_path: Path) -> tuple[Path, Path]:
    """A trace file and a replay config of DeepConf online with a run-wide warm-up of 2 samples,
    one sample at a time.

    Problem a's two sure samples are the warm-up; b's unsure sample falls below their threshold.
    Warming up again on a resumed part (b alone) would set no threshold before b's last sample."""
    traces = tmp_path / "traces.jsonl"
    write_traces(
        traces,
        [
            TraceProblem("a", "What is 6 times 7?", "42", (_recorded("42", SURE), _recorded("42", SURE))),
            TraceProblem(
                "b", "What is 5 times 8?", "40", (_recorded("40", SURE), _recorded("41", UNSURE, 80))
            ),
        ],
    )
    config = tmp_path / "online.toml"
    config.write_text(
        f'[engine]\nengine = "replay"\ntraces = "{traces}"\n'
        "[strategy]\nsamples = 2\ngreedy_first = false\nconfidence_warmup = 2\nconfidence_window = 8\n"
        'confidence_scope = "run"\nin_flight = 1\n'
    )
    return traces, config


def test_resumed_eval_keeps_the_run_wide_threshold_and_cuts_what_the_first_part_would_have(tmp_path):
    traces, config = _online_config(tmp_path)
    run = tmp_path / "run"
    _run("eval", str(traces), "-c", str(config), "--out", str(run))
    [first_a] = _lines(run / "problems.jsonl", "a")
    threshold = first_a["meta"]["confidence_threshold"]
    assert threshold is not None

    _drop_problem([run / "problems.jsonl", run / "samples.jsonl"], "b")
    _run("eval", "--resume", str(run))

    [b] = _lines(run / "problems.jsonl", "b")
    assert b["meta"]["confidence_threshold"] == threshold
    ends = {s["index"]: s["finish_reason"] for s in _lines(run / "samples.jsonl", "b")}
    assert ends == {0: "boxed", 1: "low_confidence"}
    assert b["votes"] == {"40": 1.0}


def test_resumed_solve_output_keeps_the_run_wide_threshold(tmp_path):
    traces, config = _online_config(tmp_path)
    results = tmp_path / "results.jsonl"
    _run("solve", str(traces), "-c", str(config), "-o", str(results))
    [first_a] = _lines(results, "a")
    threshold = first_a["meta"]["confidence_threshold"]
    assert threshold is not None

    _drop_problem([results], "b")
    _run("solve", str(traces), "-c", str(config), "-o", str(results), "--resume")

    [b] = _lines(results, "b")
    assert b["meta"]["confidence_threshold"] == threshold
    assert {s["index"]: s["finish_reason"] for s in b["samples"]} == {0: "boxed", 1: "low_confidence"}
