"""Competition rules for integer answers, applied only when asked for, and flagged when they bite."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyResult:
    """What a policy made of one integer: the value to submit and what, if anything, it did."""

    original: int
    value: int  # after any reduction the policy asked for
    out_of_range: bool  # the original was outside [min_value, max_value]
    reduced: bool  # the policy's modulo changed the value
    valid: bool  # `value` is inside the range: it can be submitted as is

    @property
    def reason(self) -> str:
        if self.reduced:
            return f"{self.original} reduced to {self.value}"
        if self.out_of_range:
            return f"{self.original} is out of range"
        return ""


@dataclass(frozen=True)
class AnswerPolicy:
    """The answer rules of a competition: a range, and an explicit modulo if the rules reduce.

    Nothing is reduced unless `modulo` is set, and even then a negative answer is only wrapped
    when `reduce_negative` is set too: the notebook habit of `answer % 1000` silently turns -3
    into 997. Negative answers are allowed exactly when `min_value` is None or below zero.
    """

    min_value: int | None = None
    max_value: int | None = None
    modulo: int | None = None
    reduce_negative: bool = False

    def __post_init__(self) -> None:
        if self.modulo is not None and self.modulo <= 0:
            raise ValueError("modulo must be positive")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError("min_value must not exceed max_value")

    @classmethod
    def aime(cls) -> AnswerPolicy:
        """AIME: an integer from 0 to 999, nothing reduced."""
        return cls(min_value=0, max_value=999)

    @classmethod
    def aimo3(cls) -> AnswerPolicy:
        """AIMO 3: an integer from 0 to 99999, nothing reduced."""
        return cls(min_value=0, max_value=99_999)

    @property
    def allows_negative(self) -> bool:
        return self.min_value is None or self.min_value < 0

    def in_range(self, value: int) -> bool:
        """Whether `value` satisfies the range, without any reduction."""
        low_ok = self.min_value is None or value >= self.min_value
        return low_ok and (self.max_value is None or value <= self.max_value)

    def apply(self, value: int) -> PolicyResult:
        """Check `value` against the range; reduce it only if this policy's modulo says so."""
        if self.in_range(value):
            return PolicyResult(value, value, out_of_range=False, reduced=False, valid=True)
        result = value
        if self.modulo is not None and (value >= 0 or self.reduce_negative):
            result = value % self.modulo
        return PolicyResult(
            value, result, out_of_range=True, reduced=result != value, valid=self.in_range(result)
        )
