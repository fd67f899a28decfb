"""The integer a problem submits: the best-voted answer the competition accepts, else the fallback."""

from __future__ import annotations

import re

from aimo.kaggle.config import KaggleConfig
from aimo.solve.types import ProblemResult

_INTEGER = re.compile(r"[+-]?\d+")


def submitted_answer(result: ProblemResult | None, config: KaggleConfig) -> int:
    """The voted answer when it is an integer in the competition's range; otherwise the next answer in
    the tally that is (a model's out-of-range answer is never rounded or reduced); otherwise the
    configured fallback. `None` (no result at all) gives the fallback."""
    if result is None:
        return config.fallback_answer
    ranked = sorted(result.votes, key=lambda answer: -result.votes[answer])
    if result.answer is not None:
        ranked = [result.answer, *(a for a in ranked if a != result.answer)]
    for answer in ranked:
        text = answer.strip()
        if _INTEGER.fullmatch(text) and config.answer_min <= int(text) <= config.max_answer:
            return int(text)
    return config.fallback_answer
