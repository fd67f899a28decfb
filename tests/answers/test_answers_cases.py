"""The labelled cases in cases.jsonl: extraction, program output, integer and math grading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aimo.answers import (
    AnswerPolicy,
    BoxedTarget,
    ExtractionConfig,
    LastNumberTarget,
    OutputConfig,
    canonical,
    extract,
    extract_from_output,
    grade_result,
    to_integer,
)

CASES = [
    json.loads(line) for line in (Path(__file__).parent / "cases.jsonl").read_text().splitlines() if line
]


def _policy(case: dict[str, Any]) -> AnswerPolicy | None:
    return AnswerPolicy(**case["policy"]) if "policy" in case else None


def _check_grade(case: dict[str, Any], pred: str | None) -> None:
    if case.get("gold") is None:
        return
    result = grade_result(pred, case["gold"], case["mode"], _policy(case))
    assert result.correct == case["expected_correct"], result
    if "expected_out_of_range" in case:
        assert result.out_of_range == case["expected_out_of_range"], result
    if case["kind"] == "answer" and "policy" in case:
        assert result.pred == case["expected_pred"], result


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['category']}-{c['note'][:40]}" for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    if case["kind"] == "text":
        targets = (BoxedTarget(), LastNumberTarget()) if case.get("targets") == "last_number" else None
        config = ExtractionConfig(mode=case["mode"], policy=_policy(case))
        if targets:
            config = ExtractionConfig(targets=targets, mode=case["mode"])
        found = extract(case["text"], config)
        assert (found.answer if found else None) == case["expected_pred"]
        if "expected_out_of_range" in case:
            assert found is not None and found.out_of_range == case["expected_out_of_range"]
        _check_grade(case, found.answer if found else None)
    elif case["kind"] == "output":
        config = OutputConfig(mode=case["mode"], last_line_only=case.get("last_line_only", False))
        assert extract_from_output(case["text"], config) == case["expected_pred"]
    else:
        if "expected_pred" in case and "policy" not in case:
            assert canonical(case["text"]) == case["expected_pred"]
        if "expected_integer" in case:
            assert to_integer(case["text"]) == case["expected_integer"]
        _check_grade(case, case["text"])


def test_cases_cover_every_category() -> None:
    categories = {c["category"] for c in CASES}
    assert {"extract", "output", "integer", "math", "auto"} <= categories
    assert len(CASES) >= 150
