"""Records of solving: one sample's trace and one problem's result. Both serialise to one JSON line.

The reasons a sample ended and a problem stopped are typed here. What aimo records about a sample or
a result besides its core fields (an error, answer forcing, confidence, reward...) is a typed field
too; on disk these fields stay inside the record's `meta` object, as runs wrote them before they were
fields (docs/traces.md reads them there), so old and new run directories load alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NewType

from aimo.engines.base import FinishReason

SCHEMA_VERSION = 1

# Why a round of a sample ended before its engine stream did: a closed code block, the first boxed
# answer, `</think>`, the deadline, or DeepConf's confidence gate.
EarlyStop = Literal["code", "boxed", "think", "deadline", "low_confidence"]
# Why a sample ended: its engine's finish reason, an early stop, a code run's answer
# (`stop_on_code_answer`), a failure, or a stop rule / the deadline cancelling it.
SampleEnd = FinishReason | EarlyStop | Literal["code_answer", "error", "cancelled"]
# A `k/n` stop rule's reason is its spec ("4/5").
AgreeReason = NewType("AgreeReason", str)
# Why a stop rule stopped a problem.
RuleReason = AgreeReason | Literal["unbeatable", "sprt", "sprt-futile"]
# Why a problem stopped sampling: every sample finished, the deadline, every sample failed, a rule.
StopReason = RuleReason | Literal["all_finished", "deadline", "error"]


@dataclass
class CodeRun:
    """One code block a sample ran in its sandbox session, and what came back."""

    code: str
    output: str
    error: bool = False
    timed_out: bool = False
    answer: str | None = None
    seconds: float = 0.0


@dataclass
class Sample:
    """One sampled solution of a problem.

    `meta` keeps what is not a field (a recorded trace's own keys, e.g. its `correct`)."""

    problem_id: str
    index: int
    prompt_kind: str
    text: str = ""
    code_runs: list[CodeRun] = field(default_factory=list)
    answer: str | None = None
    finish_reason: SampleEnd | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = 0.0
    ended: float = 0.0
    weight: float = 1.0
    error: str | None = None  # what failed, when `finish_reason` is "error"
    forced: bool = False  # cut short, the sample was asked for its answer (answer forcing)
    max_tokens: int | None = None  # the token cap it was launched with
    confidence: dict[str, float] | None = None  # `ConfidenceSummary.to_record()`
    mean_entropy: float | None = None  # what `VoteConfig.entropy` reads
    logprobs: list[list[float]] | None = None  # per-token top log-probabilities (`--record-logprobs`)
    reward: float | None = None  # a reward model's score
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return max(0.0, self.ended - self.started)

    def to_record(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "kind": "sample", **_fields_into_meta(asdict(self), _SAMPLE_META)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Sample:
        data = {k: v for k, v in record.items() if k not in ("schema", "kind")}
        data["code_runs"] = [CodeRun(**run) for run in data.get("code_runs", [])]
        return cls(**{**data, **fields_from_meta(data.get("meta") or {}, _SAMPLE_META)})


@dataclass
class ProblemResult:
    """The outcome of one problem: the voted answer, the tally and every sample."""

    problem_id: str
    answer: str | None
    votes: dict[str, float]
    samples: list[Sample]
    stop_reason: StopReason
    seconds: float
    gold: str | None = None
    correct: bool | None = None
    error: str | None = None  # the first sample's failure, when every sample failed
    confidence_threshold: float | None = None  # DeepConf online's threshold for this problem
    reward_error: str | None = None  # why the reward model could not score (the vote stayed plain)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_record(self, with_samples: bool = True) -> dict[str, Any]:
        record = asdict(self)
        record["samples"] = [_fields_into_meta(s, _SAMPLE_META) for s in record["samples"] if with_samples]
        return {"schema": SCHEMA_VERSION, "kind": "problem", **_fields_into_meta(record, _RESULT_META)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ProblemResult:
        data = {k: v for k, v in record.items() if k not in ("schema", "kind")}
        data["samples"] = [Sample.from_record(s) for s in data.get("samples", [])]
        return cls(**{**data, **fields_from_meta(data.get("meta") or {}, _RESULT_META)})


_SAMPLE_META = ("error", "forced", "max_tokens", "confidence", "mean_entropy", "logprobs", "reward")
_RESULT_META = ("error", "confidence_threshold", "reward_error")


def sample_fields_from_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded sample's meta as `Sample` keyword arguments: its typed fields, the rest as `meta`."""
    return fields_from_meta(meta, _SAMPLE_META)


def fields_from_meta(meta: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The typed fields `names` found in a record's `meta`, and what is left of it as `meta`."""
    return {
        **{name: meta[name] for name in names if name in meta},
        "meta": {k: v for k, v in meta.items() if k not in names},
    }


def _fields_into_meta(record: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """`record` with the typed fields `names` moved into its `meta` (only those set), as on disk."""
    meta = dict(record["meta"])
    for name in names:
        value = record.pop(name)
        if value is not None and value is not False:
            meta[name] = value
    return {**record, "meta": meta}
