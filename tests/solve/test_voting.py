from __future__ import annotations

import pytest
from pydantic import ValidationError

from aimo.solve.types import CodeRun, Sample
from aimo.solve.voting import (
    VoteConfig,
    is_code_verified,
    majority,
    normalize_key,
    problem_numbers,
    sample_weights,
    tally,
    winner,
)


def make(answer: str | None, index: int = 0, **fields: object) -> Sample:
    return Sample(problem_id="p", index=index, prompt_kind="cot", answer=answer, **fields)  # type: ignore[arg-type]


def test_plain_majority_and_none_answers_do_not_vote() -> None:
    samples = [make(None), make("7"), make("12"), make("12"), make(None), make("")]
    assert tally(samples) == {"7": 1.0, "12": 2.0}
    assert winner(tally(samples)) == "12"
    assert sample_weights(samples)[0] == 0.0
    assert majority([None, None]) is None
    assert winner({}) is None


def test_tie_goes_to_the_earliest_first_appearance() -> None:
    assert majority(["5", "9", "9", "5"]) == "5"
    assert majority(["9", "5", "5", "9"]) == "9"
    # An explicit sampling order overrides the order of the tally's keys.
    assert winner({"5": 2.0, "9": 2.0}, order=["9", "5"]) == "9"
    # Answers absent from the order rank after it.
    assert winner({"5": 2.0, "9": 2.0}, order=["9"]) == "9"
    assert winner({"5": 2.0, "9": 2.0}, order=["7"]) == "5"


def test_float_sums_that_differ_by_rounding_still_tie() -> None:
    votes = {"a": 0.1 + 0.2, "b": 0.3}
    assert winner(votes) == "a"
    assert winner(votes, order=["b", "a"]) == "b"


def test_integer_keys_are_normalised() -> None:
    assert normalize_key(" 042 ") == "42"
    assert normalize_key("+7") == "7"
    assert normalize_key("\\frac{1}{2}") == "\\frac{1}{2}"
    assert tally([make("042"), make("42")]) == {"42": 2.0}


def test_code_verified_weight() -> None:
    verified = make("3", code_runs=[CodeRun(code="print(3)", output="3", answer="3")])
    unverified = make("8", code_runs=[CodeRun(code="print(1)", output="1", answer="1")])
    assert is_code_verified(verified) and not is_code_verified(unverified)
    samples = [unverified, make("8"), verified]
    assert winner(tally(samples)) == "8"
    assert winner(tally(samples, config=VoteConfig(code_verified=2.5))) == "3"


def test_entropy_weight_and_missing_entropy_is_neutral() -> None:
    samples = [
        make("1", mean_entropy=1.0),
        make("1", mean_entropy=2.0),
        make("2", mean_entropy=0.1),  # confident: 1 / max(0.1, 0.3)
    ]
    config = VoteConfig(entropy=True)
    assert sample_weights(samples, config=config) == pytest.approx([1.0, 0.5, 1 / 0.3])
    assert winner(tally(samples, config=config)) == "2"
    # A sample without entropy gets the mean weight of the others.
    mixed = [make("1", mean_entropy=1.0), make("2", mean_entropy=0.5), make("3")]
    assert sample_weights(mixed, config=config)[2] == pytest.approx((1.0 + 2.0) / 2)
    assert sample_weights([make("3")], config=config) == [1.0]


def test_length_weight_prefers_shorter_traces() -> None:
    samples = [
        make("10", completion_tokens=4000),
        make("10", completion_tokens=3000),
        make("20", completion_tokens=500),
    ]
    config = VoteConfig(length_power=1.0, length_clip=(0.25, 4.0))
    weights = sample_weights(samples, config=config)
    assert weights == pytest.approx([3000 / 4000, 1.0, 4.0])  # median 3000; 6.0 clipped to 4.0
    assert winner(tally(samples)) == "10"
    assert winner(tally(samples, config=config)) == "20"
    # Unknown token counts are neutral.
    assert sample_weights([make("1"), make("2", completion_tokens=10)], config=config)[0] == 1.0


def test_small_number_penalty() -> None:
    samples = [make("3"), make("3"), make("120")]
    assert winner(tally(samples)) == "3"
    config = VoteConfig(small_number_penalty=0.4)
    assert winner(tally(samples, config=config)) == "120"
    assert sample_weights([make("10"), make("-9")], config=config) == pytest.approx([1.0, 0.4])


def test_problem_number_penalty() -> None:
    text = (
        "Let $N$ be the number of ways to tile a $2024 \\times 3$ board; find $N$ mod $1{,}000$ (or 1,000)."
    )
    assert {"2024", "3", "1000"} <= problem_numbers(text)
    samples = [make("2024"), make("1000"), make("2024"), make("17"), make("17")]
    assert winner(tally(samples, text)) == "2024"
    assert winner(tally(samples, text, VoteConfig(problem_number_penalty=0.5))) == "17"


def test_weights_multiply() -> None:
    sample = make("3", code_runs=[CodeRun(code="", output="3", answer="3")])
    config = VoteConfig(code_verified=2.0, small_number_penalty=0.5, problem_number_penalty=0.5)
    assert sample_weights([sample], "pick 3 balls", config) == pytest.approx([0.5])


def test_vote_config_validation() -> None:
    with pytest.raises(ValidationError):
        VoteConfig(typo=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        VoteConfig(length_clip=(1.5, 2.0))
    assert VoteConfig.model_validate({"entropy": True, "code_verified": 1.5}).entropy
