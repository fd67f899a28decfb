"""Where a sample's final answer first appears in its text."""

from __future__ import annotations

import pytest

from aimo.evaluate.answerpos import answer_positions, first_answer_fraction, first_answer_position


def test_a_box_early_then_checking():
    text = "Compute.\nSo we get \\boxed{42}.\nLet me double check this.\nYes, the answer is 42.\n"
    position = first_answer_position(text, "42")
    assert position == text.index("\\boxed{42}") + len("\\boxed{42}")


def test_a_stated_answer_counts_and_an_earlier_wrong_box_does_not_hide_it():
    text = "Try \\boxed{7} first.\nNo, that fails.\nThe answer is 9.\nCheck: fine.\nFinal: \\boxed{9}"
    assert first_answer_position(text, "9") == text.index("The answer is 9") + len("The answer is 9")


def test_an_answer_on_the_line_after_its_heading():
    text = "work\n**Final Answer**\n\n$12$\nmore words here"
    # the phrase ends on the heading line: the answer counts once its own line is complete
    assert first_answer_position(text, "12") == text.index("$12$") + 4


def test_numbers_in_passing_are_not_answers():
    text = "We have 42 apples and 42 pears.\nSo \\boxed{42}"
    assert first_answer_position(text, "42") == len(text)
    assert first_answer_fraction(text, "42") == 1.0


def test_never_stated():
    assert first_answer_position("no answer in here", "5") is None
    assert first_answer_fraction("text", None) is None
    assert first_answer_position("", "5") is None


def test_math_answers():
    text = "Thus \\boxed{\\frac{1}{2}}.\nAnd again: the answer is $\\frac{1}{2}$."
    assert first_answer_position(text, "\\frac{1}{2}") == text.index(".")


def test_positions_of_many_samples():
    early = "\\boxed{1}\n" + "checking\n" * 9  # the box is 10% of the text
    late = "thinking\n" * 9 + "\\boxed{2}"
    positions = answer_positions([(early, "1", 100), (late, "2", 100), ("nothing", "3", 50), ("x", None, 10)])
    assert positions.samples == 3
    assert len(positions.fractions) == 2
    assert positions.fractions[1] == 1.0
    assert positions.tokens == 200
    assert positions.share_after == pytest.approx((1 - positions.fractions[0]) * 100 / 200, abs=0.01)
    assert positions.median == pytest.approx(sum(positions.fractions) / 2)
