from __future__ import annotations

import json
from pathlib import Path

import pytest

from aimo.engines.traces import (
    TraceError,
    TraceProblem,
    TraceSample,
    consol_runs,
    load_problems_from_traces,
    load_traces,
    write_traces,
)
from aimo.solve.types import ProblemResult, Sample

CONSOL = "traces/consol_aime24_all_runs.jsonl"


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_aimo_format_round_trip(tmp_path: Path) -> None:
    problems = [
        TraceProblem(
            "a",
            "Find x.",
            "7",
            (
                TraceSample(text="x = \\boxed{7}", completion_tokens=9, prompt_tokens=20, meta={"t": 1}),
                TraceSample(answer=None, completion_tokens=5),
            ),
            meta={"source": "test"},
        ),
        TraceProblem("b", "Find y.", None, ()),
    ]
    path = tmp_path / "traces.jsonl"
    write_traces(path, problems)
    assert load_traces(path) == problems
    assert load_problems_from_traces(path)[1].gold is None


def test_aimo_format_is_lenient_on_names_and_numbers(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.jsonl",
        [{"id": 3, "text": "Q", "answer": 12, "samples": [{"answer": 12.0, "completion_tokens": "40"}]}, {}][
            :1
        ],
    )
    (problem,) = load_traces(path)
    assert (problem.problem_id, problem.gold, problem.samples[0]) == (
        "3",
        "12",
        TraceSample(answer="12", completion_tokens=40),
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"samples": []}\n', ":1: missing 'problem_id'"),
        ('{"problem_id": "a", "samples": [{"completion_tokens": 3}]}\n', ":1: a sample needs"),
        ('{"problem_id": "a", "samples": []}\nnot json\n', ":2: invalid JSON"),
        ('{"foo": 1}\n', "unknown trace format"),
    ],
)
def test_bad_files_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TraceError, match=r"bad\.jsonl") as info:
        load_traces(path)
    assert message in str(info.value)


def test_missing_file_and_run_on_a_plain_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="not found"):
        load_traces(tmp_path / "none.jsonl")
    path = write_lines(tmp_path / "t.jsonl", [{"problem_id": "a", "samples": []}])
    with pytest.raises(TraceError, match="only ConSol"):
        load_traces(path, run="x")
    assert load_traces(write_lines(tmp_path / "empty.jsonl", [])) == []


def test_problem_result_records_replay(tmp_path: Path) -> None:
    samples = [
        Sample("q1", 1, "cot", text="late \\boxed{5}", answer="5", completion_tokens=7),
        Sample("q1", 0, "cot", text="first \\boxed{4}", answer="4", completion_tokens=6),
    ]
    result = ProblemResult(
        "q1", "4", {"4": 1.0, "5": 1.0}, samples, "all", 1.0, gold="4", meta={"problem": "Q?"}
    )
    path = write_lines(tmp_path / "results.jsonl", [result.to_record()])
    (problem,) = load_traces(path)
    assert (problem.problem_id, problem.text, problem.gold) == ("q1", "Q?", "4")
    assert [s.answer for s in problem.samples] == ["4", "5"]  # launch order
    assert problem.samples[0].text == "first \\boxed{4}"


def test_consol_vote_run(shared_data: Path) -> None:
    path = shared_data / CONSOL
    runs = consol_runs(path)
    assert len(runs) == 27 and "o3minilow-aime24-vote" in runs
    problems = load_traces(path)  # the default run
    assert len(problems) == 30 and all(len(p.samples) == 40 for p in problems)
    assert [p.problem_id for p in problems[:2]] == ["consol-aime24-0", "consol-aime24-1"]
    assert problems[0].gold == "33" and problems[0].meta["run"] == "o3minilow-aime24-vote"
    assert sum(s.completion_tokens or 0 for p in problems for s in p.samples) == 1_965_052
    assert all(s.text is None and s.answer for p in problems for s in p.samples)
    high = load_traces(f"{path}#o3minihigh-aime24-vote")
    assert high[0].meta["run"] == "o3minihigh-aime24-vote"
    with pytest.raises(TraceError, match="o3minilow-aime24-vote"):
        load_traces(path, run="no-such-run")


def test_math_cot(shared_data: Path) -> None:
    problems = load_problems_from_traces(shared_data / "traces" / "math_cot_100.jsonl")
    assert len(problems) == 100 and all(len(p.samples) == 8 for p in problems)
    first = problems[0]
    assert (first.problem_id, first.gold) == ("math_cot-0", "420")
    assert "nearest whole number" in first.text
    assert all(s.text and "boxed" in s.text for s in first.samples)
    assert first.samples[0].answer == "420" and first.samples[0].meta["correct"] is True
