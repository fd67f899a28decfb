"""The competition's rules as aimo sees them: answer range, fallback, time limit, problem count."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Competition = Literal["aimo3", "aimo2"]
# The largest answer each competition accepts (answers are integers from 0).
ANSWER_MAX: dict[str, int] = {"aimo3": 99_999, "aimo2": 999}
# Where each competition's data (test.csv and the kaggle_evaluation package) lies on Kaggle.
INPUT_DIR: dict[str, str] = {
    "aimo3": "/kaggle/input/ai-mathematical-olympiad-progress-prize-3",
    "aimo2": "/kaggle/input/ai-mathematical-olympiad-progress-prize-2",
}


class KaggleConfig(BaseModel):
    """The `[kaggle]` table of a run config: what `aimo kaggle serve|gateway|bundle` need beyond a run."""

    model_config = ConfigDict(extra="forbid")

    competition: Competition = "aimo3"
    # Answers outside [answer_min, answer_max] are never submitted (None: the competition's maximum).
    answer_min: int = 0
    answer_max: int | None = None
    # Submitted when no in-range integer answer came out of a problem's samples.
    fallback_answer: int = 0
    # Problems the run is planned for (the time manager's count); the competition's hidden set has 50.
    problems: int = Field(50, ge=1)
    # The competition's limit on the whole notebook, and what the run keeps back from it (model
    # loading, installing, writing the submission). Without `budget.total_s` the run gets the rest.
    time_limit_s: float = Field(5 * 3600, gt=0)
    margin_s: float = Field(15 * 60, ge=0)
    # Every problem's result is appended to this JSONL file the moment it is known.
    log: str = "aimo-kaggle.jsonl"
    # The problems the local gateway feeds (None: the competition's test.csv under its input dir).
    test_csv: str | None = None

    @model_validator(mode="after")
    def _check_range(self) -> KaggleConfig:
        if not self.answer_min <= self.fallback_answer <= self.max_answer:
            raise ValueError(
                f"fallback_answer {self.fallback_answer} is outside [{self.answer_min}, {self.max_answer}]"
            )
        if self.margin_s >= self.time_limit_s:
            raise ValueError("margin_s must be smaller than time_limit_s")
        return self

    @property
    def max_answer(self) -> int:
        return self.answer_max if self.answer_max is not None else ANSWER_MAX[self.competition]

    @property
    def run_seconds(self) -> float:
        """The whole run's budget when the config sets none: the time limit less the margin."""
        return self.time_limit_s - self.margin_s

    @property
    def input_dir(self) -> str:
        return INPUT_DIR[self.competition]

    @property
    def default_test_csv(self) -> str:
        return self.test_csv or f"{self.input_dir}/test.csv"
