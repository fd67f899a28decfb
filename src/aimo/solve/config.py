"""Configuration of the solving strategy and time budget (and, re-exported, of sampling)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aimo.answers import GradeMode
from aimo.engines.sampling import SamplingConfig
from aimo.solve.confidence import OnlineConfidence
from aimo.solve.stopping import StopRuleConfig, format_stop_rules, stop_rules_from_spec
from aimo.solve.voting import VoteConfig

__all__ = ["BudgetConfig", "SamplingConfig", "StrategyConfig"]


class StrategyConfig(BaseModel):
    """How one problem is solved: how many samples of which kind, and when to stop."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["cot", "tir", "mix"] = Field(
        "cot", description="cot (reasoning only) | tir (code run in the sandbox) | mix (both kinds)"
    )
    samples: int = Field(8, ge=1, description="Samples per problem")
    code_rounds: int = Field(4, ge=0, description="Most code blocks run per sample, in tir or mix")
    # For `mix`: how many of the samples use the code (tool-integrated) prompt; the rest chain-of-thought.
    mix_code_samples: int | None = None
    # Integer competitions, MATH-style answers, or "auto" (integer when the gold answer is one).
    answer_mode: GradeMode = "auto"
    # Sample-level stopping.
    stop_on_boxed: bool = True
    stop_on_code_answer: bool = False
    stop_at_think_end: bool = False
    # Sample 0 decodes greedily (temperature 0) and wins ties: with one sample, the plain greedy pass.
    greedy_first: bool = True
    # When a sample hits its token cap or the deadline without an answer, ask for one in a few tokens.
    force_answer: bool = True
    force_answer_timeout_s: float = Field(10.0, gt=0)
    # Code runs: per-call timeout and how much of their output goes back to the model.
    code_timeout_s: float = Field(10.0, gt=0)
    max_output_chars: int = Field(1200, ge=100)
    answer_from_code: bool = False
    # How the model hands code over: ```python blocks in its text, or the OpenAI tool-calling API.
    code_via: Literal["text", "tools"] = "text"
    # Ask the engine for top log-probabilities (needed for entropy- and confidence-weighted voting,
    # and for DeepConf online stopping); every sample then records a confidence summary.
    logprobs: bool = False
    # Keep each sample's per-token top log-probabilities in its record (implies logprobs), so the
    # run replays with confidences (`--record-logprobs`).
    record_logprobs: bool = False
    # Group confidence window and tail window in tokens (aimo.solve.confidence).
    confidence_window: int = Field(2048, ge=1)
    confidence_tail: int = Field(2048, ge=1)
    # DeepConf online: the first `confidence_warmup` samples set a threshold that keeps about
    # `confidence_keep`% of traces like them; later samples stop when their group confidence falls
    # below it (0: off). Needs logprobs.
    confidence_warmup: int = Field(0, ge=0)
    confidence_keep: float = Field(90.0, gt=0, le=100)
    # Whose samples the warm-up counts: each problem's own ("problem", DeepConf's setting, for many
    # samples a problem), or the run's first finished samples, one threshold for every problem after
    # ("run": for few samples a problem, e.g. 8, where a per-problem warm-up would never end).
    confidence_scope: Literal["problem", "run"] = "problem"
    # What the warm-up counts: finished samples' lowest group confidence (DeepConf), or each sample's
    # group confidence at its first full window ("first_window": a problem's samples running at once
    # set its threshold one window in; scope "problem" only).
    confidence_warmup_on: Literal["finished", "first_window"] = "finished"
    # Question-level stopping (aimo.solve.stopping): rule objects; a config file or the command line
    # may write them as a spec, e.g. "4/4,4/5,5/7,6/9", "unbeatable", "sprt:p1=0.7".
    stop_rules: list[StopRuleConfig] = Field(default_factory=list)
    # Most samples of one problem running at once (None: all); a new one starts when one ends. Answers
    # of a bounded pool arrive closer to sampling order, so stop rules hold better (`aimo simulate
    # stopping --width`). Used when the time planner is off; with it, the planner decides.
    in_flight: int | None = Field(None, ge=1)
    vote: VoteConfig = Field(default_factory=VoteConfig)

    _spec_stop_rules = field_validator("stop_rules", mode="before")(stop_rules_from_spec)

    @property
    def online_confidence(self) -> OnlineConfidence | None:
        """DeepConf online's settings, None when it is off (`confidence_warmup = 0`)."""
        if self.confidence_warmup <= 0:
            return None
        return OnlineConfidence(
            self.confidence_warmup,
            self.confidence_keep,
            self.confidence_window,
            self.confidence_scope,
            self.confidence_warmup_on,
        )

    @property
    def stop_spec(self) -> str:
        """The stop rules as a spec ("" when none)."""
        return format_stop_rules(self.stop_rules)

    @model_validator(mode="after")
    def _weighted_votes_need_logprobs(self) -> StrategyConfig:
        """A vote weighted by entropy or confidence asks the engine for log-probabilities; without
        them it is majority."""
        vote = self.vote
        if vote.entropy or vote.tail_entropy or vote.confidence or vote.keep_top < 100:
            self.logprobs = True
        return self

    @model_validator(mode="after")
    def _first_window_warmup_is_per_problem(self) -> StrategyConfig:
        if self.confidence_warmup_on == "first_window" and self.confidence_scope != "problem":
            raise ValueError('confidence_warmup_on = "first_window" needs confidence_scope = "problem"')
        return self

    @property
    def wants_logprobs(self) -> bool:
        """Whether samples need the engine's top log-probabilities."""
        return self.logprobs or self.record_logprobs or self.confidence_warmup > 0


class BudgetConfig(BaseModel):
    """A total time budget for a run (None: no limit), and the reserve kept back for safety."""

    model_config = ConfigDict(extra="forbid")

    total_s: float | None = Field(None, gt=0, description="Total seconds for the whole run")
    per_problem_max_s: float | None = Field(None, gt=0)
    reserve_s: float = Field(5.0, ge=0)
    # Time kept per problem not yet finished to cancel its samples and write a (forced) answer.
    fallback_s: float = Field(1.0, ge=0)
    # Problems assumed for the run when the count is not known (e.g. a server feeding one at a time).
    assumed_problems: int = Field(50, ge=1)
    # Samples already running may go on up to `borrow` times the problem's fair share of the time left
    # (1.0: never more); the excess comes out of the later problems' shares.
    borrow: float = Field(3.0, ge=1.0)
    # The planner fills this fraction of the fair share with samples (its planning horizon).
    soft_fraction: float = Field(1.0, gt=0, le=1)
    # Speed levels: (min ratio of fair share now to the run's initial fair share, samples multiplier),
    # best first; the first level whose ratio is reached applies. The last must start at 0. The
    # planner already sizes each problem's samples to its time, so by default there is one level.
    speed_levels: list[tuple[float, float]] = Field(default_factory=lambda: [(0.0, 1.0)])
    # The planner: plan samples on measured engine speed and token needs (off: start all samples at once).
    planner: bool = True
    # Which quantile of tokens-to-answer a planned sample must be able to reach in the time it gets.
    plan_quantile: float = Field(0.8, gt=0, lt=1)
    # Tokens a sample needs before it answers, before this run has measured any (None: max_tokens / 2).
    prior_tokens: int | None = Field(None, ge=1)
    # Engine speed before this run has measured it: an `aimo bench engine --json` file (None: the cached
    # measurement of this engine and model, else a short calibration at the start of the run).
    throughput: str | None = None
    # A fitted token scheduler (`aimo data scheduler fit`): each problem's predicted tokens, relative to
    # the typical problem's, scale its share of the time and the planner's token estimate (None: fair shares).
    token_scheduler: str | None = None
    # Measure the engine for a few seconds at the start of a timed run when no measurement is cached.
    calibrate: bool = True
    # The planner adds samples only while the leading answer is fewer than this many votes ahead.
    settled_lead: float = Field(2.0, gt=0)

    @field_validator("speed_levels")
    @classmethod
    def _check_speed_levels(cls, levels: list[tuple[float, float]]) -> list[tuple[float, float]]:
        ratios = [ratio for ratio, _ in levels]
        if not levels or ratios != sorted(ratios, reverse=True) or ratios[-1] != 0:
            raise ValueError("speed_levels need descending ratios ending with 0, e.g. [[0.9, 1], [0, 0.5]]")
        if any(not 0 < scale <= 1 for _, scale in levels):
            raise ValueError("speed_levels multipliers must lie in (0, 1]")
        return levels
