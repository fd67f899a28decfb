"""The reward functions' values, called the way TRL calls them (batch lists and dataset columns)."""

from __future__ import annotations

import math

import pytest

from aimo.data import accuracy_reward, cosine_reward, format_reward, length_reward


def chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_format_reward_needs_a_box_before_the_end_of_thinking():
    assert format_reward(
        ["<think>x = \\boxed{3}</think> so 3", "\\boxed{3} without think", chat("</think>\\boxed{3}")]
    ) == [
        1.0,
        0.0,
        0.0,
    ]


def test_accuracy_reward_grades_integer_and_math_modes():
    assert accuracy_reward("integer")(["\\boxed{042}", "\\boxed{41}", "none"], answer=["42", "42", "42"]) == [
        1.0,
        0.0,
        0.0,
    ]
    assert accuracy_reward("math")([chat("\\boxed{\\frac{1}{2}}")], answer=["0.5"]) == [1.0]
    assert accuracy_reward("integer")(["\\boxed{2.5}"], answer=["2"]) == [0.0]  # never rounded


def test_cosine_reward_endpoints():
    reward = cosine_reward(max_len=100)
    ids = [[0] * 0, [0] * 100, [0] * 0, [0] * 100]
    texts = ["\\boxed{1}", "\\boxed{1}", "\\boxed{2}", "\\boxed{2}"]
    got = reward(texts, answer=["1"] * 4, completion_ids=ids)
    assert got == pytest.approx([1.0, 0.5, -1.0, -0.5])
    middle = reward(["\\boxed{1}"], answer=["1"], completion_ids=[[0] * 50])[0]
    assert middle == pytest.approx(0.5 + 0.25 * (1 + math.cos(math.pi / 2)))


def test_length_reward_is_per_prompt_group():
    texts = ["\\boxed{1}", "\\boxed{1}", "\\boxed{2}", "\\boxed{1}", "\\boxed{1}"]
    ids = [[0] * 10, [0] * 30, [0] * 20, [0] * 5, [0] * 5]
    prompts = ["a", "a", "a", "b", "b"]
    got = length_reward()(texts, answer=["1"] * 5, prompts=prompts, completion_ids=ids)
    # group a: lengths 10..30, lambda = 0.5, -0.5, 0.0 (wrong: min(0, 0.0)); group b: equal lengths -> 0
    assert got == pytest.approx([0.5, -0.5, 0.0, 0.0, 0.0])


def test_rewards_carry_names_for_trl_logs():
    assert accuracy_reward("math").__name__ == "accuracy_math"
    assert cosine_reward().__name__ == "cosine" and length_reward().__name__ == "length"
