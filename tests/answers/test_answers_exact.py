"""Exact values: integer-valued forms in integer mode, tiny and huge numbers, and the size bounds
that keep every evaluation short (hostile inputs are refused, not computed)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimo.answers import (
    ExtractionConfig,
    FinalOutputTarget,
    MathVerifier,
    ReductionTarget,
    extract,
    grade_result,
    is_answer,
    normalize,
    to_integer,
)
from aimo.answers.arithmetic import WIDE, TooLarge, as_integer, evaluate
from aimo.answers.normalize import exact_value

INTEGER_FORMS = [
    "m+n=N",
    r"\text{The answer is }N",
    r"N\%",
    r"N^\circ",
    r"N \text{ cm}",
    "N students",
    r"a_1+a_2 = N",
]


@given(st.integers(min_value=1, max_value=10**9), st.sampled_from(INTEGER_FORMS))
def test_integer_valued_forms_read_as_their_integer(n: int, form: str) -> None:
    assert to_integer(form.replace("N", str(n))) == n


@given(st.fractions(min_value=-1000, max_value=1000).filter(lambda f: f.denominator > 1))
def test_a_non_integer_in_a_sentence_or_equation_is_never_rounded(value: Fraction) -> None:
    number = f"{value.numerator}/{value.denominator}"
    for text in (rf"\text{{The answer is }} {number}", f"m+n = {number}"):
        assert to_integer(text) is None
        assert not grade_result(text, str(round(value)), "integer").correct


def test_wide_limits_compare_what_normal_limits_refuse() -> None:
    with pytest.raises(TooLarge):
        evaluate(r"\frac{1}{2006!}")
    assert evaluate(r"\frac{1}{2006!}", WIDE) != evaluate(r"\frac{1}{2004!}", WIDE)
    assert exact_value(normalize(r"\frac{1}{2006!}")) == evaluate(
        r"\frac{1}{2006 \cdot 2005 \cdot 2004!}", WIDE
    )


@pytest.mark.parametrize(
    "hostile",
    [
        r"\lfloor (\sqrt{2}+1)^{4000} \rfloor",  # sympy's floor took 7 s on it
        r"(\sqrt{2}+1)^{100000}",
        r"\lfloor 10^{5000}\pi \rfloor",
        r"2^{10^{100}}",
        r"\binom{100000}{50000}",
    ],
)
def test_hostile_expressions_are_refused_by_size(hostile: str) -> None:
    with pytest.raises(TooLarge):
        evaluate(hostile)


def test_a_huge_expansion_is_not_attempted() -> None:
    value = evaluate(r"(\sqrt2+\sqrt3+\sqrt5+\sqrt7+\sqrt{11}+\sqrt{13})^{16}")  # ~20k terms if expanded
    assert as_integer(value) is None


def test_floors_just_below_an_integer_are_exact() -> None:
    # (√3+√2)^6 = 970 - (√3-√2)^6 and (1+√2)^200 is an integer minus 10^-77.
    assert evaluate(r"\lfloor (\sqrt{3}+\sqrt{2})^{6} \rfloor") == 969
    assert evaluate(r"\lceil (\sqrt{3}+\sqrt{2})^{6} \rceil") == 970
    below = evaluate(r"\lfloor (1+\sqrt{2})^{200} \rfloor")
    assert below + 1 == evaluate(r"\lceil (1+\sqrt{2})^{200} \rceil")
    assert evaluate(r"\lfloor \sqrt{2}\sqrt{8} \rfloor") == 4


def test_grading_a_hostile_expression_ends_with_a_verdict() -> None:
    verifier = MathVerifier(timeout_s=1.0)
    try:
        for hostile in (r"(\sqrt2+\sqrt3+\sqrt5+\sqrt7+\sqrt{11}+\sqrt{13})^{16}", r"(x+1)^{100000}"):
            result = grade_result(hostile, "x^2+1", "math", verifier=verifier)
            assert not result.correct and result.method in ("timeout", "math_verify")
    finally:
        verifier.close()


def test_an_integer_past_pythons_digit_limit_grades_without_error() -> None:
    # A model's answer (recorded): 3^44100 has about 21,000 digits, past int-to-str's 4,300.
    result = grade_result(r"3^{210^2}\times 5^4", "5", "integer")
    assert not result.correct and result.method == "integer"
    assert result.pred == normalize(r"3^{210^2}\times 5^4").canonical


def test_is_answer_depends_on_the_mode() -> None:
    assert is_answer("42", "integer") and is_answer("41.5", "integer")
    assert not is_answer("x+1", "integer") and is_answer("x+1", "math")
    assert not is_answer(r"The value of\(f(-2)+f(-1)+f(", "math")
    assert not is_answer(r"\frac{1}{2", "math")


def test_final_output_and_reduction_targets_are_configurable() -> None:
    text = "Some work.\n```result\n42\n```\n"
    assert extract(text) is None
    found = extract(text, ExtractionConfig(targets=(FinalOutputTarget(fence="```result"),)))
    assert found is not None and (found.answer, found.source) == ("42", "final_output")
    late = "The remainder when N is divided by 7 is 3." + " More words follow here." * 10
    assert extract(late, ExtractionConfig(targets=(ReductionTarget(window=1000),))).answer == "3"
    assert extract(late, ExtractionConfig(targets=(ReductionTarget(window=100),))) is None
