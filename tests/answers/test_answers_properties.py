"""Property tests: number formats round-trip, bad groupings are rejected, non-integers stay so."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from aimo.answers import AnswerPolicy, ExtractionConfig, canonical, extract_answer, grade, to_integer

SEPARATORS = [",", "{,}", r"\,", r"\!,\!", " ", r"\ ", "~"]


def _group(n: int, sep: str) -> str:
    """`n` with `sep` between groups of three digits, the way a model would write it."""
    digits = str(abs(n))
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ("-" if n < 0 else "") + sep.join(groups)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(SEPARATORS))
def test_grouped_integers_round_trip(n: int, sep: str) -> None:
    text = _group(n, sep)
    assert to_integer(text) == n
    assert canonical(text) == str(n)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(SEPARATORS))
def test_grouped_integer_in_a_box_is_extracted(n: int, sep: str) -> None:
    text = f"Adding up, the total is $\\boxed{{{_group(n, sep)}}}$."
    assert extract_answer(text) == str(n)
    assert grade(extract_answer(text), str(n))


@given(
    st.integers(min_value=1, max_value=999),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=3),
    st.sampled_from(SEPARATORS),
    st.data(),
)
def test_invalid_groupings_are_rejected(head: int, groups: list[int], sep: str, data: st.DataObject) -> None:
    # Make one group after the first not exactly three digits long.
    widths = [3] * len(groups)
    bad = data.draw(st.integers(min_value=0, max_value=len(groups) - 1))
    widths[bad] = data.draw(st.sampled_from([1, 2, 4, 5]))
    parts = [str(head)] + [str(g % 10**w).zfill(w) for g, w in zip(groups, widths, strict=True)]
    text = sep.join(parts)
    assert to_integer(text) is None, text


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=1, max_value=9999))
def test_non_integer_decimals_are_never_integers(whole: int, frac: int) -> None:
    if frac % 10 == 0:
        frac += 1  # keep a non-zero last digit: 41.50 is still 41.5, fine, but make it non-integral
    text = f"{whole}.{frac}"
    assert to_integer(text) is None
    assert not grade(text, str(whole), "integer")
    assert not grade(text, str(whole + 1), "integer")


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_floats_are_integers_exactly_when_integral(x: float) -> None:
    expected = int(x) if x == int(x) else None
    assert to_integer(repr(x)) == expected


@given(st.fractions(max_denominator=10**6))
def test_latex_fractions_are_integers_exactly_when_integral(value: Fraction) -> None:
    text = f"\\frac{{{value.numerator}}}{{{value.denominator}}}"
    expected = value.numerator if value.denominator == 1 else None
    assert to_integer(text) == expected


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_canonical_is_idempotent_on_integers(n: int) -> None:
    assert canonical(canonical(f"\\text{{{n}}}")) == str(n)


@given(st.text(max_size=300))
@settings(max_examples=200)
def test_extraction_never_crashes(text: str) -> None:
    for mode in ("integer", "math"):
        answer = extract_answer(text, ExtractionConfig(mode=mode))  # type: ignore[arg-type]
        assert answer is None or isinstance(answer, str)


@given(
    st.text(alphabet="{}\\boxed fbox$*answer:is0123456789 \n", max_size=400),
)
def test_extraction_on_brace_soup_never_crashes(text: str) -> None:
    answer = extract_answer(text)
    assert answer is None or isinstance(answer, str)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_policy_reduces_only_out_of_range_and_never_wraps_negatives(n: int) -> None:
    policy = AnswerPolicy(min_value=0, max_value=999, modulo=1000)
    result = policy.apply(n)
    if 0 <= n <= 999:
        assert (result.value, result.reduced, result.out_of_range) == (n, False, False)
    elif n < 0:
        assert (result.value, result.reduced, result.valid) == (n, False, False)
    else:
        assert result.value == n % 1000 and result.out_of_range and result.valid
