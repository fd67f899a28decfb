"""A real `aimo eval` run directory (config.json, samples.jsonl, problems.jsonl) written with aimo's own
RunDir, over a real problem file: what the dataset builders read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aimo.config import RunConfig
from aimo.data import GradedProblem, load_graded
from aimo.evaluate.rundir import RunDir, RunInfo, problem_record, sample_record
from aimo.solve.types import CodeRun, ProblemResult, Sample

PROBLEMS = [
    ("sum", "What is 2 + 3?", "5"),
    ("prod", "What is 6 times 7?", "42"),
    ("pow", "What is 2 to the power 10, minus 1000?", "24"),
]
TIR_TEXT = "Let me compute.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\nThe product is \\boxed{42}."


def _sample(pid: str, index: int, kind: str, text: str, answer: str | None, tokens: int) -> Sample:
    runs = [CodeRun(code="print(6 * 7)", output="42", answer="42")] if kind == "tir" else []
    return Sample(pid, index, kind, text, runs, answer, "boxed", 20, tokens, 0.0, 1.0)


def samples_for(pid: str, gold: str) -> list[Sample]:
    if pid == "prod":
        return [
            _sample(pid, 0, "tir", TIR_TEXT, "42", 40),
            _sample(pid, 1, "cot", "Six sevens: " + "6+" * 60 + "... so \\boxed{42}.", "42", 300),
            _sample(pid, 2, "cot", "I guess \\boxed{41}.", "41", 10),
        ]
    if pid == "sum":
        return [
            _sample(pid, 0, "cot", "2 + 3 = \\boxed{5}.", "5", 12),
            _sample(pid, 1, "cot", "Adding carefully, " + "step, " * 50 + "\\boxed{5}.", "5", 200),
        ]
    return [_sample(pid, i, "cot", f"Maybe \\boxed{{{i}}}.", str(i), 30 + i) for i in range(3)]


def write_run(root: Path) -> Path:
    problems = root / "problems.jsonl"
    problems.write_text(
        "".join(json.dumps({"id": i, "problem": t, "answer": a}) + "\n" for i, t, a in PROBLEMS)
    )
    info = RunInfo(RunConfig(), {"spec": str(problems)}, [p[0] for p in PROBLEMS])
    run = RunDir.create(root / "run", info)
    samples_out, problems_out = run.writers()
    for position, (pid, _, gold) in enumerate(PROBLEMS):
        samples = samples_for(pid, gold)
        for sample in samples:
            samples_out.write(sample_record(0, sample))
        result = ProblemResult(pid, samples[0].answer, {}, samples, "all", 1.0, gold)
        problems_out.write(problem_record(0, position, result))
    samples_out.close()
    problems_out.close()
    return run.path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path)


@pytest.fixture
def graded_problems(tmp_path: Path) -> list[GradedProblem]:
    return load_graded(write_run(tmp_path))
