"""Calibration chats: a problem file gives solve prompts; an `aimo eval` run gives prompts and outputs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from calibration_problems import PROBLEMS, write_problems

from aimo.config import RunConfig
from aimo.engines.traces import TraceProblem, TraceSample, write_traces
from aimo.evaluate.launch import EvalRequest, execute, start
from aimo.quantize import QuantizeError, load_calibration
from aimo.solve.prompts import COT_SYSTEM


def test_problem_file_gives_the_solve_prompt_of_each_problem(tmp_path):
    calibration = load_calibration(str(write_problems(tmp_path / "p.jsonl")), limit=10)
    assert calibration.kind == "problems"
    assert sorted(chat[1]["content"] for chat in calibration.chats) == sorted(t for _, t, _ in PROBLEMS)
    assert all(chat[0] == {"role": "system", "content": COT_SYSTEM} for chat in calibration.chats)


def test_limit_takes_a_seeded_subset(tmp_path):
    spec = str(write_problems(tmp_path / "p.jsonl"))
    first, again = load_calibration(spec, limit=2, seed=3), load_calibration(spec, limit=2, seed=3)
    assert len(first.chats) == 2 and first.chats == again.chats


def test_texts_end_ready_for_the_answer_unless_the_chat_holds_one(tmp_path):
    calibration = load_calibration(str(write_problems(tmp_path / "p.jsonl")), limit=1)
    seen = []
    calibration.texts(lambda messages, add_generation_prompt: seen.append(add_generation_prompt) or "")
    assert seen == [True]


def eval_run(tmp_path: Path) -> Path:
    """A real `aimo eval` run directory, replaying two recorded samples per problem."""
    traces = tmp_path / "traces.jsonl"
    write_traces(
        traces,
        [
            TraceProblem(
                pid,
                text,
                gold,
                samples=tuple(
                    TraceSample(text=f"Work {j}. \\boxed{{{gold}}}", completion_tokens=5) for j in range(2)
                ),
            )
            for pid, text, gold in PROBLEMS[:2]
        ],
    )
    config = RunConfig().override(
        engine={"engine": "replay", "traces": str(traces)}, strategy={"samples": 2, "strategy": "cot"}
    )
    session = start(EvalRequest(str(traces), config, out=tmp_path / "run"))
    asyncio.run(execute(session))
    return session.run.path


def test_eval_run_gives_prompts_with_the_models_own_outputs(tmp_path):
    calibration = load_calibration(str(eval_run(tmp_path)), limit=100)
    assert calibration.kind == "eval-run"
    assert len(calibration.chats) == 4  # 2 problems x 2 samples
    for chat in calibration.chats:
        assert [m["role"] for m in chat] == ["system", "user", "assistant"]
        assert chat[1]["content"] in {t for _, t, _ in PROBLEMS}
        assert chat[2]["content"].startswith("Work ")


def test_unknown_calibration_data_is_one_clear_error(tmp_path):
    with pytest.raises(QuantizeError, match="calibration data"):
        load_calibration(str(tmp_path / "missing.jsonl"), limit=4)
