"""Agreement, false positives and false negatives of `aimo.answers` on a labelled case file (the
format of cases.jsonl) and, optionally, agreement with a recorded harness's `score` (math_cot_100).

Uses only the public API, so one script measures any checkout:
    PYTHONPATH=<checkout>/src python tests/answers/measure_cases.py tests/answers/cases.jsonl [TRACES]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import aimo.answers as answers


def run_case(case: dict[str, Any]) -> tuple[bool, bool | None]:
    """(the extracted/canonical answer is the expected one, the grade) for one case."""
    policy = answers.AnswerPolicy(**case["policy"]) if "policy" in case else None
    if case["kind"] == "output":
        config = answers.OutputConfig(mode=case["mode"], last_line_only=case.get("last_line_only", False))
        return answers.extract_from_output(case["text"], config) == case["expected_pred"], None
    if case["kind"] == "text":
        config = answers.ExtractionConfig(mode=case["mode"], policy=policy)
        if case.get("targets") == "last_number":
            targets = (answers.BoxedTarget(), answers.LastNumberTarget())
            config = answers.ExtractionConfig(targets=targets, mode=case["mode"])
        found = answers.extract(case["text"], config)
        pred = found.answer if found else None
        pred_ok = pred == case["expected_pred"]
    else:
        pred = case["text"]
        expected, integer = case.get("expected_pred"), case.get("expected_integer")
        pred_ok = expected is None or "policy" in case or answers.canonical(pred) == expected
        pred_ok = pred_ok and ("expected_integer" not in case or answers.to_integer(pred) == integer)
    if case.get("gold") is None:
        return pred_ok, None
    return pred_ok, answers.grade_result(pred, case["gold"], case["mode"], policy).correct


def measure_cases(path: Path) -> None:
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    graded = agree = fp = fn = pred_bad = 0
    for case in cases:
        pred_ok, correct = run_case(case)
        pred_bad += not pred_ok
        if correct is None or case.get("expected_correct") is None:
            continue
        graded += 1
        agree += correct == case["expected_correct"]
        fp += correct and not case["expected_correct"]
        fn += not correct and case["expected_correct"]
    print(f"cases: {len(cases)}  extraction/canonical mismatches: {pred_bad}")
    print(f"graded: {graded}  agreement: {agree}/{graded}  false positives: {fp}  false negatives: {fn}")


def measure_traces(path: Path) -> None:
    same = total = ours_only = theirs_only = 0
    for line in path.read_text().splitlines():
        row = json.loads(line)
        gold = str(row["gt"])
        mode = answers.resolve_mode(gold)
        for text, score in zip(row.get("code") or row["response"], row["score"], strict=True):
            found = answers.extract(text, answers.ExtractionConfig(mode=mode))
            correct = answers.grade_result(found.answer if found else None, gold, mode).correct
            total += 1
            same += correct == bool(score)
            ours_only += correct and not score
            theirs_only += not correct and bool(score)
    print(
        f"traces: {total} samples  agreement with score: {same}/{total}  ours correct, theirs wrong: "
        f"{ours_only}  ours wrong, theirs correct: {theirs_only}"
    )


if __name__ == "__main__":
    measure_cases(Path(sys.argv[1]))
    if len(sys.argv) > 2:
        measure_traces(Path(sys.argv[2]))
