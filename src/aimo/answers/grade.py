"""Grading a predicted answer against a gold answer, in integer or MATH-style mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aimo.answers.arithmetic import as_integer
from aimo.answers.config import Mode
from aimo.answers.math_equiv import MathVerifier, default_verifier, numbers_equal
from aimo.answers.normalize import Normalized, exact_value, normalize
from aimo.answers.policy import AnswerPolicy

GradeMode = Literal["auto", "integer", "math"]
Method = Literal[
    "no_answer", "bad_gold", "integer", "canonical", "choice", "numeric", "text", "math_verify", "timeout"
]


@dataclass(frozen=True)
class GradeResult:
    """The verdict on one prediction, with how it was reached."""

    correct: bool
    mode: Mode
    pred: str | None  # canonical prediction; None when there was none
    gold: str  # canonical gold
    method: Method
    out_of_range: bool = False
    reduced: bool = False

    def __bool__(self) -> bool:
        return self.correct


def resolve_mode(gold: str, mode: GradeMode = "auto") -> Mode:
    """`auto` is integer mode when the gold answer denotes an integer, else math mode."""
    if mode != "auto":
        return mode
    return "integer" if normalize(gold).integer is not None else "math"


def grade(pred: str | None, gold: str, mode: GradeMode = "auto", policy: AnswerPolicy | None = None) -> bool:
    """Whether the predicted answer (already extracted) equals the gold answer."""
    return grade_result(pred, gold, mode, policy).correct


def grade_result(
    pred: str | None,
    gold: str,
    mode: GradeMode = "auto",
    policy: AnswerPolicy | None = None,
    verifier: MathVerifier | None = None,
) -> GradeResult:
    """Grade with details. `policy` applies to integer mode; `verifier` bounds Math-Verify's time."""
    resolved = resolve_mode(gold, mode)
    gold_n = normalize(gold)
    pred_n = normalize(pred) if pred is not None else None
    if gold_n.kind == "empty":
        return GradeResult(False, resolved, None if pred_n is None else pred_n.canonical, "", "bad_gold")
    if pred_n is None or pred_n.kind == "empty":
        return GradeResult(False, resolved, None, gold_n.canonical, "no_answer")
    if resolved == "integer":
        return _grade_integer(pred_n, gold_n, policy)
    return _grade_math(pred_n, gold_n, verifier or default_verifier())


def _grade_integer(pred: Normalized, gold: Normalized, policy: AnswerPolicy | None) -> GradeResult:
    if gold.integer is None:
        return GradeResult(False, "integer", pred.canonical, gold.canonical, "bad_gold")
    integer = pred.integer
    if integer is None and pred.kind == "expression":  # `\\frac{2006!}{2005!}`: past normalize's bounds
        wide = exact_value(pred)
        integer = None if wide is None else as_integer(wide)
    if integer is None:
        return GradeResult(False, "integer", pred.canonical, gold.canonical, "integer")
    value, out_of_range, reduced, valid = integer, False, False, True
    if policy is not None:
        applied = policy.apply(integer)
        value, out_of_range, reduced, valid = (
            applied.value,
            applied.out_of_range,
            applied.reduced,
            applied.valid,
        )
    return GradeResult(
        valid and value == gold.integer,
        "integer",
        _integer_text(value, pred.canonical),
        gold.canonical,
        "integer",
        out_of_range,
        reduced,
    )


def _integer_text(value: int, fallback: str) -> str:
    """`value` in digits, or `fallback` past Python's limit on int-to-text conversion (a model's
    `3^{210^2}` has 21,000 digits)."""
    try:
        return str(value)
    except ValueError:
        return fallback


def _grade_math(pred: Normalized, gold: Normalized, verifier: MathVerifier) -> GradeResult:
    def result(correct: bool, method: Method) -> GradeResult:
        return GradeResult(correct, "math", pred.canonical, gold.canonical, method)

    if pred.canonical == gold.canonical:
        return result(True, "canonical")
    if gold.kind == "choice" and pred.choice is not None:
        return result(pred.choice == gold.choice, "choice")
    pred_value, gold_value = exact_value(pred), exact_value(gold)
    if pred_value is not None and gold_value is not None:
        # Exact, never Math-Verify's float comparison (it rounds `\\frac{1}{2004!}` to 0).
        return result(numbers_equal(pred_value, gold_value), "numeric")
    if pred.kind == "text" and gold.kind == "text":
        return result(pred.canonical.casefold() == gold.canonical.casefold(), "text")
    verdict = verifier.equivalent(gold.canonical, pred.canonical)
    return result(bool(verdict), "timeout" if verdict is None else "math_verify")
