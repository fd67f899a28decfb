"""Question-level early stopping: when the answers in so far are enough to stop sampling a problem.

A rule sees the finished answers in the order they finished (None: the sample gave no answer), the
number of samples planned for the problem and, when the vote is weighted, each answer's weight and
the most weight a sample still to come can carry; it returns a stop reason or None. Rules count votes
the way the vote does, so a rule never stops while the weighted winner could still change. Rules are
pure and cheap, so the sample loop can ask after every finished sample.

The rules are objects (`AgreeRule`, `UnbeatableRule`, `SprtRule`; `StopRuleConfig` is their tagged union,
as `StrategyConfig.stop_rules` holds them). On the command line and in TOML files they are written as a
spec (`parse_stop_rules`; `format_stop_rules` writes one back), combined with commas or semicolons (any
rule firing stops):

- `k/n` (e.g. `4/5`): once n samples have finished, stop if at least k of the *first n* finished
  gave the same answer. This is how the AIMO notebooks' "4/4,4/5,5/7,6/9" lists read: a checkpoint
  at the n-th finished sample, with a stricter bar at each later checkpoint. It is not "top answer
  >= k among all answers so far once n are in": read that way, `4/4` alone would imply every later
  entry of such a list. Since the first n are fixed once the n-th arrives, the rule is decided at
  that moment (later checks give the same result). Samples without an answer count as finished
  but vote for nothing.
- `unbeatable`: stop when no outcome of the samples still running or not yet started could change
  the plurality winner (ties go to the earlier answer, as in `aimo.solve.voting`).
- `sprt` / `sprt:p1=0.7,alpha=0.05,beta=0.05,p0=0.5,futility=true`: Wald's sequential probability
  ratio test as ConSol (Lee et al. 2025, arXiv 2503.17587) uses it: of the votes for the two most
  common answers, the leader's share p is tested, H0: p = p0 against H1: p = p1. Accepting H1 stops
  ("the leader is the mode"); accepting H0 also stops unless `futility=false` ("the top two are too
  close to separate; more samples will not settle it"). The defaults are ConSol's calibrated values
  (p1=0.5001, alpha=0.05, beta=0.949976), which come down to "the leader is 3 votes ahead of the
  runner-up"; with them this rule stops ConSol's recorded SPRT runs at exactly the recorded sample.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import Field

from aimo.solve.types import AgreeReason, RuleReason
from aimo.solve.voting import weigh_answers

__all__ = [
    "AgreeRule",
    "SprtRule",
    "StopRule",
    "StopRuleConfig",
    "UnbeatableRule",
    "check_stop",
    "format_stop_rules",
    "parse_stop_rules",
]


@runtime_checkable
class StopRule(Protocol):
    """A question-level stopping rule."""

    @property
    def spec(self) -> str:
        """The rule as written in a spec string (parses back to an equal rule)."""
        ...

    def check(
        self,
        answers: Sequence[str | None],
        total: int,
        weights: Sequence[float] | None = None,
        max_weight: float = 1.0,
    ) -> RuleReason | None:
        """A stop reason if sampling can stop, given the finished `answers` of `total` planned samples
        (`weights`: their vote weights, None for plain counts; `max_weight`: a future sample's most)."""
        ...


def _top_two(
    answers: Sequence[str | None], weights: Sequence[float] | None = None
) -> tuple[str | None, float, float]:
    """The leader (ties: earliest), its votes, and the runner-up's votes (0 when none)."""
    counts = weigh_answers(answers, weights)
    if not counts:
        return None, 0, 0
    leader = max(counts, key=counts.__getitem__)  # max keeps the first of equal counts
    second = max((c for k, c in counts.items() if k != leader), default=0)
    return leader, counts[leader], second


@dataclass(frozen=True)
class AgreeRule:
    """`k/n`: at least k of the first n finished samples agree (decided when the n-th finishes)."""

    k: int
    n: int
    kind: Literal["agree"] = "agree"

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise ValueError(f"'{self.spec}': need 1 <= k <= n")

    @property
    def spec(self) -> str:
        return f"{self.k}/{self.n}"

    def check(
        self,
        answers: Sequence[str | None],
        total: int,
        weights: Sequence[float] | None = None,
        max_weight: float = 1.0,
    ) -> RuleReason | None:
        if len(answers) < self.n:
            return None
        _, top, _ = _top_two(answers[: self.n], None if weights is None else weights[: self.n])
        return AgreeReason(self.spec) if top >= self.k else None


@dataclass(frozen=True)
class UnbeatableRule:
    """`unbeatable`: the leader wins whatever the remaining samples answer."""

    kind: Literal["unbeatable"] = "unbeatable"

    @property
    def spec(self) -> str:
        return "unbeatable"

    def check(
        self,
        answers: Sequence[str | None],
        total: int,
        weights: Sequence[float] | None = None,
        max_weight: float = 1.0,
    ) -> RuleReason | None:
        leader, top, _ = _top_two(answers, weights)
        if leader is None:
            return None
        remaining = max(0, total - len(answers))
        if remaining == 0:
            return "unbeatable"
        # The strongest challenge is every remaining sample voting for one rival with the most weight
        # a sample can carry. A rival that appeared after the leader must pass it; one that appeared
        # before it only has to draw level (it wins the tie). A rival not seen yet appears after it.
        reach = remaining * max_weight
        seen_before = True
        for key, count in weigh_answers(answers, weights).items():
            if key == leader:
                seen_before = False
                continue
            if count + reach > top or (seen_before and count + reach >= top):
                return None
        return None if reach > top else "unbeatable"


@dataclass(frozen=True)
class SprtRule:
    """`sprt`: Wald's SPRT on the leader's share of the top two answers' votes (ConSol)."""

    p1: float = 0.5001
    alpha: float = 0.05
    beta: float = 0.949976
    p0: float = 0.5
    futility: bool = True
    kind: Literal["sprt"] = "sprt"

    def __post_init__(self) -> None:
        if not 0 < self.p0 < self.p1 < 1:
            raise ValueError(f"'{self.spec}': need 0 < p0 < p1 < 1")
        if not (0 < self.alpha < 1 and 0 < self.beta < 1):
            raise ValueError(f"'{self.spec}': alpha and beta must lie in (0, 1)")

    @property
    def spec(self) -> str:
        defaults = SprtRule.__dataclass_fields__
        params = [
            f"{name}={_format_param(getattr(self, name))}"
            for name in ("p1", "alpha", "beta", "p0", "futility")
            if getattr(self, name) != defaults[name].default
        ]
        return "sprt:" + ",".join(params) if params else "sprt"

    def log_likelihood_ratio(self, first: float, second: float) -> float:
        """log P(counts | H1) - log P(counts | H0) for the top two answers' votes."""
        return first * math.log(self.p1 / self.p0) + second * math.log((1 - self.p1) / (1 - self.p0))

    def check(
        self,
        answers: Sequence[str | None],
        total: int,
        weights: Sequence[float] | None = None,
        max_weight: float = 1.0,
    ) -> RuleReason | None:
        _, first, second = _top_two(answers, weights)
        if first == 0:
            return None
        llr = self.log_likelihood_ratio(first, second)
        if llr >= math.log((1 - self.beta) / self.alpha):
            return "sprt"
        if self.futility and llr <= math.log(self.beta / (1 - self.alpha)):
            return "sprt-futile"
        return None


# The rules as a config holds them: a mapping names its rule by `kind` ("agree", "unbeatable", "sprt").
StopRuleConfig = Annotated[AgreeRule | UnbeatableRule | SprtRule, Field(discriminator="kind")]


def check_stop(
    rules: Sequence[StopRule],
    answers: Sequence[str | None],
    total: int,
    weights: Sequence[float] | None = None,
    max_weight: float = 1.0,
) -> RuleReason | None:
    """The reason of the first rule (in the order given) that says stop, or None.

    Pass the vote's `weights` (and `max_weight`, the most a future sample can carry) when it is weighted."""
    for rule in rules:
        reason = rule.check(answers, total, weights, max_weight)
        if reason is not None:
            return reason
    return None


_AGREE_RE = re.compile(r"(\d+)\s*/\s*(\d+)")
_SPRT_PARAMS = {"p0": float, "p1": float, "alpha": float, "beta": float, "futility": "bool"}


def parse_stop_rules(spec: str) -> list[StopRule]:
    """Parse a spec like `"4/4,4/5,5/7,6/9"`, `"unbeatable"`, `"sprt:p1=0.7,alpha=0.05"`, combined with
    commas or semicolons. `key=value` parts after `sprt:` are that rule's parameters. An empty spec or
    `"none"` means no early stopping. Raises ValueError naming the part it cannot read."""
    if spec.strip().lower() in ("", "none"):
        return []
    rules: list[StopRule] = []
    sprt_params: dict[str, object] | None = None  # parameters of the sprt rule being read

    def close_sprt() -> None:
        nonlocal sprt_params
        if sprt_params is not None:
            try:
                rules.append(SprtRule(**sprt_params))  # type: ignore[arg-type]
            except ValueError as exc:
                raise ValueError(f"stop rules {spec!r}: {exc}") from None
            sprt_params = None

    for raw in re.split(r"[,;]", spec):
        part = raw.strip()
        if not part:
            continue
        lowered = part.lower()
        if "=" in part and ":" not in part:
            if sprt_params is None:
                raise ValueError(
                    f"stop rules {spec!r}: parameter {part!r} does not follow a rule that takes it"
                )
            _add_sprt_param(spec, part, sprt_params)
            continue
        close_sprt()
        if lowered == "unbeatable":
            rules.append(UnbeatableRule())
        elif lowered == "sprt" or lowered.startswith("sprt:"):
            sprt_params = {}
            first_param = part[len("sprt:") :].strip() if ":" in part else ""
            if first_param:
                _add_sprt_param(spec, first_param, sprt_params)
        elif match := _AGREE_RE.fullmatch(part):
            try:
                rules.append(AgreeRule(int(match.group(1)), int(match.group(2))))
            except ValueError as exc:
                raise ValueError(f"stop rules {spec!r}: {exc}") from None
        else:
            raise ValueError(
                f"stop rules {spec!r}: cannot read {part!r} "
                "(expected k/n, 'unbeatable', 'sprt' or 'sprt:key=value')"
            )
    close_sprt()
    return rules


def format_stop_rules(rules: Sequence[StopRule]) -> str:
    """The spec of `rules` ("" when none); `parse_stop_rules` reads it back to equal rules."""
    return ",".join(rule.spec for rule in rules)


def stop_rules_from_spec(value: Any) -> Any:
    """A spec string as rules (the string form of config files and run records); anything else as is."""
    return parse_stop_rules(value) if isinstance(value, str) else value


def _add_sprt_param(spec: str, part: str, params: dict[str, object]) -> None:
    key, _, value = (s.strip() for s in part.partition("="))
    kind = _SPRT_PARAMS.get(key.lower())
    if kind is None:
        raise ValueError(
            f"stop rules {spec!r}: unknown sprt parameter {key!r} (known: {', '.join(_SPRT_PARAMS)})"
        )
    try:
        params[key.lower()] = _parse_bool(value) if kind == "bool" else float(value)
    except ValueError:
        raise ValueError(f"stop rules {spec!r}: bad value in {part!r}") from None


def _parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _format_param(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)
