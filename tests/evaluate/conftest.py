"""Fixtures of the evaluation tests: a tiny trace file to replay, and runs of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimo.engines.traces import TraceProblem, TraceSample, write_traces

# (gold, sample answers); sample j of every problem has 40 * (j + 1) tokens of text.
TINY = {
    "t1": ("12", ["12", "12", "12", "7"]),
    "t2": ("30", ["30", "31", "31", "30"]),
    "t3": ("5", ["6", "6", "6", "6"]),
    "t4": ("100", ["100", None, "100", "100"]),
}


def sample_text(answer: str | None, tokens: int) -> str:
    """About `tokens` × 4 characters of reasoning that end with the boxed answer (or none)."""
    end = f"So the answer is \\boxed{{{answer}}}." if answer is not None else "I could not finish."
    body = "We reason step by step.\n" * max(1, (tokens * 4 - len(end)) // 24)
    return body + end


def tiny_problems() -> list[TraceProblem]:
    return [
        TraceProblem(
            problem_id=pid,
            text=f"Tiny problem {pid}: what is the answer?",
            gold=gold,
            samples=tuple(
                TraceSample(text=sample_text(a, 40 * (j + 1)), completion_tokens=40 * (j + 1))
                for j, a in enumerate(answers)
            ),
        )
        for pid, (gold, answers) in TINY.items()
    ]


@pytest.fixture()
def tiny_trace(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_trace.jsonl"
    write_traces(path, tiny_problems())
    return path
