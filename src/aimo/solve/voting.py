"""Voting over the answers of a problem's samples: plain majority, or weighted by evidence.

Every weight is a multiplier on a sample's single vote, and each one is off by default, so the
default `VoteConfig()` is plain majority voting. Samples whose answer is None (or empty) do not vote.

Tie-break (everywhere in aimo: `winner`, `majority`, the stopping rules): among answers whose weight
ties with the best, the one that appeared first in sampling order wins, i.e. the answer of the
earliest sample in the sequence given. The sample loop passes samples in the order they finished,
so on a tie the answer that was reached first is kept.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aimo.solve.types import Sample

# Relative tolerance under which two weighted totals count as a tie (float sums depend on order).
_TIE_RTOL = 1e-9
_INT_RE = re.compile(r"[+-]?\d+")
# Numbers in a problem statement: plain digit runs and thousands-grouped ones ("1,000", "1{,}000").
_TEXT_NUMBER_RE = re.compile(r"\d{1,3}(?:(?:,|\{,\})\d{3})+(?!\d)|\d+")


class VoteConfig(BaseModel):
    """Which vote weights are on, and how strong they are. The default is plain majority.

    - `code_verified`: multiplier for a sample whose answer also came out of one of its code runs.
    - `entropy`: weight each sample by 1 / max(H, `entropy_floor`), H = `Sample.mean_entropy`
      (mean token entropy from the engine's logprobs; lower entropy = more confident). A sample
      without it gets the mean weight of those that have it, i.e. stays neutral.
    - `length_power`: weight (median tokens / sample tokens) ** power, clipped to `length_clip`;
      the median is over the problem's answered samples. Wrong answers tend to come from longer traces.
    - `small_number_penalty`: multiplier for integer answers with |answer| <= `small_number_max`.
    - `problem_number_penalty`: multiplier for answers that appear as a number in the problem text.
    - `tail_entropy`: like `entropy`, with the mean entropy of the last tokens before the answer
      (`Sample.confidence["tail_entropy"]`, see `aimo.solve.confidence`).
    - `confidence`: DeepConf's weighted vote: weight by a confidence measure of the sample
      (`lowest_group`, `tail`, `bottom10` or `mean`), relative to the problem's median, clipped to
      `confidence_clip`. `keep_top` (a percentage): only the `keep_top`% most confident voters (by
      `confidence`, or `lowest_group` when it is off) vote at all: DeepConf's offline filter.
    - `reward`: reward-model scores (`Sample.reward`): `weighted` weighs each vote by
      sigmoid(score); `best` is best-of-N (only the highest-scored sample votes). `reward_model`: the
      URL of a vLLM pooling server that scores samples as they finish.
    Samples without a measure a weight needs get the mean weight of those that have it (neutral).
    """

    model_config = ConfigDict(extra="forbid")

    code_verified: float = Field(1.0, ge=0.0)
    entropy: bool = False
    entropy_floor: float = Field(0.3, gt=0.0)
    length_power: float = Field(0.0, ge=0.0)
    length_clip: tuple[float, float] = (0.5, 2.0)
    small_number_penalty: float = Field(1.0, ge=0.0)
    small_number_max: int = Field(9, ge=0)
    problem_number_penalty: float = Field(1.0, ge=0.0)
    tail_entropy: bool = False
    confidence: Literal["", "lowest_group", "tail", "bottom10", "mean"] = ""
    confidence_clip: tuple[float, float] = (0.25, 4.0)
    keep_top: float = Field(100.0, gt=0.0, le=100.0)
    reward: Literal["", "weighted", "best"] = ""
    # A vLLM pooling server that scores each finished sample (`aimo.solve.reward`); implies
    # reward="weighted" unless `reward` says otherwise.
    reward_model: str = ""

    @model_validator(mode="after")
    def _check_clip(self) -> VoteConfig:
        low, high = self.length_clip
        if not 0 < low <= 1 <= high:
            raise ValueError(f"length_clip must satisfy 0 < low <= 1 <= high, got {self.length_clip}")
        low, high = self.confidence_clip
        if not 0 < low <= 1 <= high:
            raise ValueError(f"confidence_clip must satisfy 0 < low <= 1 <= high, got {self.confidence_clip}")
        if self.reward_model and not self.reward:
            self.reward = "weighted"
        return self


def normalize_key(answer: object) -> str | None:
    """The voting key of an answer: stripped text, integers without sign/zero padding noise; None for none."""
    if answer is None:
        return None
    text = str(answer).strip()
    if not text:
        return None
    if _INT_RE.fullmatch(text):
        return str(int(text))
    return text


def problem_numbers(problem_text: str) -> set[str]:
    """The integers written in a problem statement, as voting keys (e.g. {"2024", "1000"})."""
    found = set()
    for match in _TEXT_NUMBER_RE.findall(problem_text):
        digits = match.replace("{,}", "").replace(",", "")
        found.add(str(int(digits)))
    return found


def is_code_verified(sample: Sample) -> bool:
    """Whether one of the sample's code runs produced the same answer as the sample."""
    key = normalize_key(sample.answer)
    return key is not None and any(normalize_key(run.answer) == key for run in sample.code_runs)


def sample_weights(
    samples: Sequence[Sample], problem_text: str = "", config: VoteConfig | None = None
) -> list[float]:
    """Each sample's vote weight (0.0 for samples without an answer), in the order given."""
    config = config or VoteConfig()
    keys = [normalize_key(s.answer) for s in samples]
    voters = [s for s, k in zip(samples, keys, strict=True) if k is not None]
    numbers = problem_numbers(problem_text) if config.problem_number_penalty != 1.0 else set()
    tokens = [s.completion_tokens for s in voters if s.completion_tokens > 0]
    median_tokens = statistics.median(tokens) if config.length_power and tokens else None
    evidence = _evidence_factors(voters, config)
    kept = _kept_voters(voters, config)

    weights = []
    for sample, key in zip(samples, keys, strict=True):
        if key is None or id(sample) not in kept:
            weights.append(0.0)
            continue
        weight = 1.0
        if config.code_verified != 1.0 and is_code_verified(sample):
            weight *= config.code_verified
        for factor in evidence:
            weight *= factor(sample)
        if median_tokens is not None and sample.completion_tokens > 0:
            low, high = config.length_clip
            weight *= min(high, max(low, (median_tokens / sample.completion_tokens) ** config.length_power))
        if _is_small_number(key, config.small_number_max):
            weight *= config.small_number_penalty
        if key in numbers:
            weight *= config.problem_number_penalty
        weights.append(weight)
    return weights


def confidence_measure(sample: Sample, name: str) -> float | None:
    """A confidence measure of a sample's summary (`Sample.confidence`), None when missing."""
    value = sample.confidence.get(name) if sample.confidence else None
    return None if value is None else float(value)


def _evidence_factors(voters: Sequence[Sample], config: VoteConfig) -> list[Callable[[Sample], float]]:
    """The multipliers that read per-sample evidence (entropy, confidence, reward), each neutral
    (the voters' mean) for a sample that lacks the evidence."""
    readers: list[Callable[[Sample], float | None]] = []
    if config.entropy:
        readers.append(lambda s: _inverse(s.mean_entropy, config.entropy_floor))
    if config.tail_entropy:
        readers.append(lambda s: _inverse(confidence_measure(s, "tail_entropy"), config.entropy_floor))
    if config.confidence:
        known = [v for s in voters if (v := confidence_measure(s, config.confidence)) is not None]
        middle = statistics.median(known) if known else 1.0
        low, high = config.confidence_clip

        def relative(s: Sample) -> float | None:
            value = confidence_measure(s, config.confidence)
            return None if value is None or middle <= 0 else min(high, max(low, value / middle))

        readers.append(relative)
    if config.reward == "weighted":
        readers.append(lambda s: None if (r := _reward(s)) is None else _sigmoid(r))
    if config.reward == "best":
        scored = [(r, i) for i, s in enumerate(voters) if (r := _reward(s)) is not None]
        best = id(voters[max(scored)[1]]) if scored else None
        readers.append(lambda s: None if best is None else float(id(s) == best))
    return [_neutral_default(reader, voters) for reader in readers]


def _neutral_default(
    reader: Callable[[Sample], float | None], voters: Sequence[Sample]
) -> Callable[[Sample], float]:
    known = [v for s in voters if (v := reader(s)) is not None]
    default = sum(known) / len(known) if known else 1.0
    return lambda s: value if (value := reader(s)) is not None else default


def _kept_voters(voters: Sequence[Sample], config: VoteConfig) -> set[int]:
    """Ids of the voters `keep_top` keeps: the most confident `keep_top`% (all when it is 100, and
    all voters without a measure, which cannot be ranked)."""
    if config.keep_top >= 100:
        return {id(s) for s in voters}
    measure = config.confidence or "lowest_group"
    ranked = sorted(
        ((v, i) for i, s in enumerate(voters) if (v := confidence_measure(s, measure)) is not None),
        reverse=True,
    )
    keep = max(1, math.ceil(len(ranked) * config.keep_top / 100)) if ranked else 0
    kept = {id(voters[i]) for _, i in ranked[:keep]}
    return kept | {id(s) for s in voters if confidence_measure(s, measure) is None}


def _reward(sample: Sample) -> float | None:
    return None if sample.reward is None else float(sample.reward)


def _inverse(value: float | None, floor: float) -> float | None:
    return None if value is None else 1.0 / max(float(value), floor)


def tally(
    samples: Sequence[Sample], problem_text: str = "", config: VoteConfig | None = None
) -> dict[str, float]:
    """Total vote weight of each answer; keys in order of first appearance among `samples`."""
    return weigh_answers([s.answer for s in samples], sample_weights(samples, problem_text, config))


def winner(votes: Mapping[str, float], order: Iterable[str | None] | None = None) -> str | None:
    """The answer with the most weight; ties go to the answer that comes first in `order`.

    `order` is the answers in sampling order (answers missing from it rank after it, in the order of
    `votes`); without it, the order of `votes` (as `tally` builds it: first appearance) is used.
    Returns None when nothing was voted for.
    """
    if not votes:
        return None
    rank: dict[str, int] = {}
    for answer in order or ():
        key = normalize_key(answer)
        if key is not None and key in votes:
            rank.setdefault(key, len(rank))
    for key in votes:
        rank.setdefault(key, len(rank))
    best = max(votes.values())
    tied = [k for k, w in votes.items() if math.isclose(w, best, rel_tol=_TIE_RTOL, abs_tol=1e-12)]
    return min(tied, key=rank.__getitem__)


def count_answers(answers: Iterable[str | None]) -> dict[str, int]:
    """Plain vote counts of answer keys, in order of first appearance; None answers are skipped."""
    counts: dict[str, int] = {}
    for answer in answers:
        key = normalize_key(answer)
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    return counts


def weigh_answers(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> dict[str, float]:
    """Vote weight of each answer key (plain counts without `weights`), in order of first appearance."""
    if weights is None:
        return {k: float(v) for k, v in count_answers(answers).items()}
    totals: dict[str, float] = {}
    for answer, weight in zip(answers, weights, strict=True):
        key = normalize_key(answer)
        if key is not None:
            totals[key] = totals.get(key, 0.0) + weight
    return totals


def leader_margin(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> float:
    """How many votes the leading answer is ahead of the runner-up (0 when nothing was answered)."""
    ranked = sorted(weigh_answers(answers, weights).values(), reverse=True)
    if not ranked:
        return 0.0
    return ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0)


def max_sample_weight(config: VoteConfig | None = None) -> float:
    """The most weight one sample can carry under `config` (a bound for rules about future samples)."""
    config = config or VoteConfig()
    # Every multiplier can apply to the same sample, so the bound is their product.
    bound = (
        max(1.0, config.code_verified)
        * max(1.0, config.small_number_penalty)
        * max(1.0, config.problem_number_penalty)
    )
    if config.length_power > 0:
        bound *= config.length_clip[1]
    if config.entropy:
        bound *= 1.0 / config.entropy_floor
    if config.tail_entropy:
        bound *= 1.0 / config.entropy_floor
    if config.confidence:
        bound *= config.confidence_clip[1]
    return bound


def majority(answers: Iterable[str | None]) -> str | None:
    """Plain majority vote of answers given in sampling order (ties: first appearance)."""
    counts = count_answers(answers)
    return winner({k: float(v) for k, v in counts.items()})


def _is_small_number(key: str, limit: int) -> bool:
    return _INT_RE.fullmatch(key) is not None and abs(int(key)) <= limit


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
