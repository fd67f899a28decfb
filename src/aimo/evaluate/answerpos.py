"""Where in a sample its final answer first appeared: the early-stopping analysis of a run.

A sample that boxes (or states) its final answer at 40% of its text and then keeps checking spends
60% of its tokens on nothing the vote sees. For each sample, `first_answer_position` finds the
first point at which the text, cut there, already gives the sample's final answer as a boxed,
"the answer is …" or bold answer (`aimo.answers`, each kind tried on its own so an earlier box of
another value does not hide a stated answer).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from aimo.answers import BoldTarget, BoxedTarget, ExtractionConfig, Mode, PhraseTarget, extract, normalize
from aimo.solve.voting import normalize_key

# A line that may hold an answer: a box, or the word "answer" (phrases and bold answers need it).
_TRIGGER = re.compile(r"\\boxed|\\fbox|answer", re.IGNORECASE)
_TARGETS = (BoxedTarget(), PhraseTarget(), BoldTarget())


@dataclass(frozen=True)
class AnswerPositions:
    """First-appearance fractions of a set of samples and what stopping there would have saved."""

    fractions: tuple[float, ...]  # one per sample whose final answer was found in its text
    samples: int  # samples with an answer
    tokens_after: int  # tokens that came after the first appearance (estimated from characters)
    tokens: int  # all tokens of the samples found

    @property
    def median(self) -> float | None:
        return statistics.median(self.fractions) if self.fractions else None

    @property
    def share_after(self) -> float | None:
        """The share of these samples' tokens spent after their final answer had first appeared."""
        return self.tokens_after / self.tokens if self.tokens else None


def first_answer_position(text: str, answer: str) -> int | None:
    """The character offset at which `text` first gives `answer` as its answer (None: never in the text)."""
    want = normalize_key(answer)
    if want is None or not text:
        return None
    configs = [ExtractionConfig(targets=(t,), mode=_mode(answer), think_end=None) for t in _TARGETS]
    for cut in _cuts(text):
        prefix = text[:cut]
        for config in configs:
            found = extract(prefix, config)
            if found is not None and normalize_key(found.answer) == want:
                # An answer on the line after its heading is not at `found.end`: then the cut is.
                return found.end if found.raw in text[found.start : found.end] else cut
    return None


def first_answer_fraction(text: str, answer: str | None) -> float | None:
    """`first_answer_position` as a fraction of the text's length."""
    if answer is None:
        return None
    position = first_answer_position(text, answer)
    return None if position is None else position / len(text)


def answer_positions(samples: Sequence[tuple[str, str | None, int]]) -> AnswerPositions:
    """First-appearance fractions of (text, final answer, completion tokens) triples."""
    fractions: list[float] = []
    after = total = answered = 0
    for text, answer, tokens in samples:
        if answer is None:
            continue
        answered += 1
        fraction = first_answer_fraction(text, answer)
        if fraction is None:
            continue
        fractions.append(fraction)
        after += round((1.0 - fraction) * tokens)
        total += tokens
    return AnswerPositions(tuple(fractions), answered, after, total)


def _mode(answer: str) -> Mode:
    return "integer" if normalize(answer).integer is not None else "math"


def _cuts(text: str) -> Iterator[int]:
    """Ends of the lines that may complete an answer: each trigger line and the next non-empty line."""
    line_ends = [m.start() for m in re.finditer("\n", text)] + [len(text)]
    starts = [0, *(end + 1 for end in line_ends[:-1])]
    emitted = -1
    for i, (start, end) in enumerate(zip(starts, line_ends, strict=True)):
        if not _TRIGGER.search(text, start, end):
            continue
        following = next((j for j in range(i + 1, len(starts)) if text[starts[j] : line_ends[j]].strip()), i)
        for cut in (end, line_ends[following]):
            if cut > emitted:
                emitted = cut
                yield cut
