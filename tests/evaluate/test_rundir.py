"""The run directory: records written as problems finish, and what a resume keeps of a killed run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.config import RunConfig
from aimo.engines.replay import ReplayEngine
from aimo.evaluate.datasets import resolve_dataset
from aimo.evaluate.rundir import RunDir, RunDirError, RunInfo, problem_record, sample_record
from aimo.evaluate.runner import ResampledReplay, engine_for_repeat, problem_order, repeat_seed, run_eval
from aimo.solve.stopping import AgreeRule, SprtRule
from aimo.solve.types import ProblemResult, Sample


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def new_run(path: Path, trace: Path, repeats: int = 1, total_s: float | None = None, mode="eval") -> RunDir:
    config = RunConfig().override(
        engine={"engine": "replay", "traces": str(trace)},
        strategy={"samples": 4},
        budget={"total_s": total_s},
    )
    dataset = resolve_dataset(str(trace), str(trace))
    info = RunInfo(config, dataset.describe(), [p.id for p in dataset.problems], repeats=repeats, mode=mode)
    return RunDir.create(path, info)


def test_a_run_writes_every_sample_and_problem_of_every_repeat(tmp_path, tiny_trace):
    run = new_run(tmp_path / "run", tiny_trace, repeats=2)
    problems = resolve_dataset(str(tiny_trace), str(tiny_trace)).problems
    seen = []
    asyncio.run(
        run_eval(ReplayEngine.from_file(tiny_trace), problems, run, on_result=lambda r, res: seen.append(r))
    )
    assert seen == [0] * 4 + [1] * 4
    problem_lines, sample_lines = lines(run.problems_path), lines(run.samples_path)
    assert [(p["repeat"], p["problem_id"], p["position"]) for p in problem_lines] == [
        (r, f"t{i + 1}", i) for r in range(2) for i in range(4)
    ]
    assert all(p["samples"] == [] and p["elapsed_s"] >= 0 for p in problem_lines)
    assert len(sample_lines) == 2 * 4 * 4
    records = run.records()
    assert len(records) == 8 and all(len(r.result.samples) == 4 for r in records)
    assert records[0].result.answer == "12" and records[0].result.correct is True
    info = json.loads((run.path / "config.json").read_text())
    assert (
        info["dataset"]["kind"] == "traces"
        and info["repeats"] == 2
        and info["config"]["strategy"]["samples"] == 4
    )
    with pytest.raises(RunDirError, match="already holds a run"):
        new_run(tmp_path / "run", tiny_trace)


def fake_result(pid: str, n: int = 2) -> ProblemResult:
    samples = [Sample(pid, i, "cot", text="\\boxed{1}", answer="1", finish_reason="stop") for i in range(n)]
    return ProblemResult(pid, "1", {"1": 2.0}, samples, "all_finished", 1.0, gold="1", correct=True)


def write_lines(
    run: RunDir, problems: list[tuple[int, ProblemResult]], orphans: list[tuple[int, Sample]]
) -> None:
    with run.samples_path.open("a") as s, run.problems_path.open("a") as p:
        for repeat, result in problems:
            for sample in result.samples:
                s.write(json.dumps(sample_record(repeat, sample)) + "\n")
            p.write(json.dumps(problem_record(repeat, 0, result)) + "\n")
        for repeat, sample in orphans:
            s.write(json.dumps(sample_record(repeat, sample)) + "\n")


def test_resume_drops_orphans_duplicates_and_a_torn_line(tmp_path, tiny_trace):
    run = new_run(tmp_path / "run", tiny_trace, repeats=2)
    t1, t2 = fake_result("t1"), fake_result("t2")
    write_lines(run, [(0, t1), (0, t2), (0, t1)], orphans=[(0, fake_result("t3").samples[0])])
    with run.samples_path.open("a") as f:
        f.write('{"repeat": 1, "problem_id": "t1", "ind')  # killed mid-line
    done = RunDir.open(run.path).prepare_resume()
    assert done == {(0, "t1"), (0, "t2")}
    assert len(lines(run.problems_path)) == 2
    samples = lines(run.samples_path)
    assert sorted((s["problem_id"], s["index"]) for s in samples) == [
        ("t1", 0),
        ("t1", 1),
        ("t2", 0),
        ("t2", 1),
    ]


# Lines as aimo wrote them before errors, forcing, confidence and rewards were `Sample` fields: in `meta`.
OLD_SAMPLE = {
    "repeat": 0,
    "schema": 1,
    "kind": "sample",
    "problem_id": "t1",
    "index": 0,
    "prompt_kind": "cot",
    "text": "so \\boxed{12}",
    "code_runs": [
        {
            "code": "print(12)",
            "output": "12",
            "error": False,
            "timed_out": False,
            "answer": "12",
            "seconds": 0.1,
        }
    ],
    "answer": "12",
    "finish_reason": "length",
    "prompt_tokens": 30,
    "completion_tokens": 64,
    "started": 1.0,
    "ended": 2.5,
    "weight": 1.0,
    "meta": {
        "max_tokens": 64,
        "confidence": {"tokens": 64, "mean": 3.0, "lowest_group": 2.5},
        "mean_entropy": 0.4,
        "logprobs": [[-0.1, -2.0]],
        "reward": 1.5,
        "forced": True,
        "correct": True,
    },
}
OLD_FAILED_SAMPLE = {
    **OLD_SAMPLE,
    "index": 1,
    "answer": None,
    "finish_reason": "error",
    "code_runs": [],
    "meta": {"max_tokens": 64, "error": "EngineError: server down"},
}
OLD_PROBLEM = {
    "repeat": 0,
    "position": 0,
    "schema": 1,
    "kind": "problem",
    "problem_id": "t1",
    "answer": "12",
    "votes": {"12": 1.0},
    "samples": [],
    "stop_reason": "1/1",
    "seconds": 2.0,
    "gold": "12",
    "correct": True,
    "meta": {"confidence_threshold": 2.0, "reward_error": "unreachable", "note": "kept"},
}


def test_a_run_written_with_meta_bags_loads_resumes_reports_and_writes_back_the_same_lines(
    tmp_path, tiny_trace
):
    run = new_run(tmp_path / "old", tiny_trace)
    info = json.loads((run.path / "config.json").read_text())
    info["config"]["strategy"]["stop_rules"] = "4/4,sprt"  # a spec, as config.json held them
    (run.path / "config.json").write_text(json.dumps(info))
    assert RunDir.open(run.path).info.config.strategy.stop_rules == [AgreeRule(4, 4), SprtRule()]
    run.samples_path.write_text("".join(json.dumps(r) + "\n" for r in (OLD_SAMPLE, OLD_FAILED_SAMPLE)))
    run.problems_path.write_text(json.dumps(OLD_PROBLEM) + "\n")
    assert RunDir.open(run.path).prepare_resume() == {(0, "t1")}
    [record] = RunDir.open(run.path).records()
    result = record.result
    assert (result.confidence_threshold, result.reward_error, result.meta) == (
        2.0,
        "unreachable",
        {"note": "kept"},
    )
    sample, failed = result.samples
    assert sample.forced is True and sample.max_tokens == 64 and sample.reward == 1.5
    assert (
        sample.confidence == {"tokens": 64, "mean": 3.0, "lowest_group": 2.5} and sample.mean_entropy == 0.4
    )
    assert sample.logprobs == [[-0.1, -2.0]] and sample.meta == {"correct": True}
    assert failed.error == "EngineError: server down" and failed.forced is False
    assert [sample_record(0, s) for s in result.samples] == [OLD_SAMPLE, OLD_FAILED_SAMPLE]
    assert problem_record(0, 0, result) == OLD_PROBLEM
    report = CliRunner().invoke(app, ["report", str(run.path), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "report.md").is_file()


def test_an_unfinished_timed_repeat_is_dropped_whole(tmp_path, tiny_trace):
    run = new_run(tmp_path / "run", tiny_trace, repeats=2, total_s=100.0, mode="competition")
    whole = [(0, fake_result(f"t{i}")) for i in range(1, 5)]
    write_lines(run, [*whole, (1, fake_result("t1")), (1, fake_result("t2"))], orphans=[])
    done = RunDir.open(run.path).prepare_resume()
    assert done == {(0, f"t{i}") for i in range(1, 5)}
    assert {s["repeat"] for s in lines(run.samples_path)} == {0}


def test_repeat_seeds_orders_and_resampled_replay(tiny_trace):
    engine = ReplayEngine.from_file(tiny_trace)
    assert engine_for_repeat(engine, repeat_seed(0, 0), 0) is engine
    other = engine_for_repeat(engine, repeat_seed(0, 1), 1)
    assert isinstance(other, ResampledReplay)
    assert repeat_seed(5, 2) == 2005
    problems = resolve_dataset(str(tiny_trace), str(tiny_trace)).problems
    assert problem_order(problems, 1, shuffle=False) == problems
    shuffled = problem_order(problems, 1, shuffle=True)
    assert shuffled == problem_order(problems, 1, shuffle=True)
    assert sorted(p.id for p in shuffled) == [p.id for p in problems]
    assert {tuple(p.id for p in problem_order(problems, s, True)) for s in range(10)} != {
        tuple(p.id for p in problems)
    }


def test_resampled_replay_plays_the_recorded_samples_in_another_order(tmp_path, tiny_trace):
    run = new_run(tmp_path / "run", tiny_trace, repeats=3)
    problems = resolve_dataset(str(tiny_trace), str(tiny_trace)).problems
    asyncio.run(run_eval(ReplayEngine.from_file(tiny_trace), problems, run))
    by_repeat: dict[int, dict[str, list[int]]] = {}
    for record in run.records():
        by_repeat.setdefault(record.repeat, {})[record.result.problem_id] = [
            s.completion_tokens for s in record.result.samples
        ]
    assert by_repeat[0]["t1"] == [40, 80, 120, 160]  # repeat 0: as recorded
    for repeat in (1, 2):  # the same samples, another order
        assert all(sorted(v) == [40, 80, 120, 160] for v in by_repeat[repeat].values())
    assert by_repeat[1] != by_repeat[0] or by_repeat[2] != by_repeat[0]
