"""What to extract, as configuration objects passed in (Math-Verify's style), not flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aimo.answers.policy import AnswerPolicy

Mode = Literal["integer", "math"]


@dataclass(frozen=True)
class BoxedTarget:
    """The last non-empty, closed `\\boxed{...}` / `\\fbox{...}` (nested braces kept), or `\\boxed 5`."""

    commands: tuple[str, ...] = ("boxed", "fbox")


@dataclass(frozen=True)
class PhraseTarget:
    """The last "final answer is X" / "Answer: X" / "#### X" whose X reads as an answer in the mode."""

    phrases: tuple[str, ...] = ("final answer", "answer")
    max_chars: int = 200  # how far after the phrase to look


@dataclass(frozen=True)
class BoldTarget:
    """The last `**X**` on a line that mentions the keyword, e.g. `Final answer: **42**`."""

    keyword: str = "answer"


@dataclass(frozen=True)
class ReductionTarget:
    """A value stated after a reduction in words near the end of the text: "the remainder when N is
    divided by 1000 is 123", "N mod 1000 = 123", "the last three digits are 376". An integer only,
    and only in the last `window` characters (the conclusion), since such lines also occur mid-way."""

    window: int = 600


@dataclass(frozen=True)
class FinalOutputTarget:
    """The printed output of the last program, when the text ends right after an output block
    holding one number (the model stopped there, as if that output were its answer)."""

    fence: str = "```output"


@dataclass(frozen=True)
class LastNumberTarget:
    """The last number anywhere in the text. A guess, not a commitment: off unless asked for."""


Target = BoxedTarget | PhraseTarget | BoldTarget | ReductionTarget | FinalOutputTarget | LastNumberTarget

# What the model wrote as its answer; the default adds the final program output as a last resort.
TEXT_TARGETS: tuple[Target, ...] = (BoxedTarget(), PhraseTarget(), BoldTarget(), ReductionTarget())


@dataclass(frozen=True)
class ExtractionConfig:
    """How to find the final answer in a model's text.

    `targets` are tried in order; the first that finds something wins, and within a target the
    last occurrence wins. When `think_end` occurs, the text after its last occurrence is searched
    first (reasoning models box tentative answers while thinking), then the whole text. `mode`
    decides what a phrase or bold candidate must look like to count (in integer mode: a number);
    a box always counts. `policy`, if given, is applied to integer answers.
    """

    targets: tuple[Target, ...] = (*TEXT_TARGETS, FinalOutputTarget())
    mode: Mode = "integer"
    policy: AnswerPolicy | None = None
    think_end: str | None = "</think>"


@dataclass(frozen=True)
class OutputConfig:
    """How to find an answer in a program's stdout: the last line that is a number.

    `labels` also reads lines like `answer = 42` or `Total: 42`; `last_line_only` looks at the
    last non-empty line alone; `reject_traceback` gives no answer when the run raised.
    """

    mode: Mode = "integer"
    policy: AnswerPolicy | None = None
    labels: bool = True
    last_line_only: bool = False
    reject_traceback: bool = True
