"""The integer submitted for a problem: in the competition's range, else the next vote, else the fallback."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aimo.config import ConfigError, RunConfig
from aimo.kaggle.answer import submitted_answer
from aimo.kaggle.config import KaggleConfig
from aimo.solve.types import ProblemResult


def result(answer: str | None, votes: dict[str, float]) -> ProblemResult:
    return ProblemResult("p", answer, votes, [], "all_finished", 1.0)


def test_the_voted_integer_is_submitted():
    assert submitted_answer(result("42", {"42": 3, "7": 1}), KaggleConfig()) == 42


def test_an_out_of_range_winner_gives_way_to_the_best_in_range_answer():
    votes = {"123456": 3.0, "1/2": 2.0, "77": 1.0, "5": 0.5}
    assert submitted_answer(result("123456", votes), KaggleConfig(competition="aimo3")) == 77


def test_aimo2_range_rejects_answers_over_999():
    assert submitted_answer(result("1000", {"1000": 2}), KaggleConfig(competition="aimo2")) == 0
    assert submitted_answer(result("1000", {"1000": 2}), KaggleConfig(competition="aimo3")) == 1000


def test_no_answer_or_no_result_submits_the_fallback():
    config = KaggleConfig(fallback_answer=210)
    assert submitted_answer(result(None, {}), config) == 210
    assert submitted_answer(None, config) == 210
    assert submitted_answer(result("-3", {"-3": 1}), config) == 210  # below answer_min


def test_a_fallback_outside_the_range_is_refused():
    with pytest.raises(ValidationError, match="fallback_answer 1000"):
        KaggleConfig(competition="aimo2", fallback_answer=1000)


def test_the_run_config_reads_a_kaggle_table():
    config = RunConfig.from_dict({"kaggle": {"competition": "aimo2", "problems": 10, "margin_s": 60}})
    assert (config.kaggle.max_answer, config.kaggle.problems, config.kaggle.run_seconds) == (999, 10, 17940)
    with pytest.raises(ConfigError, match=r"kaggle\.answer_cap"):
        RunConfig.from_dict({"kaggle": {"answer_cap": 5}})
