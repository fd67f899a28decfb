"""Records of solving: one sample's trace and one problem's result. Both serialise to one JSON line."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


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
    """One sampled solution of a problem."""

    problem_id: str
    index: int
    prompt_kind: str
    text: str = ""
    code_runs: list[CodeRun] = field(default_factory=list)
    answer: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = 0.0
    ended: float = 0.0
    weight: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return max(0.0, self.ended - self.started)

    def to_record(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "kind": "sample", **asdict(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Sample:
        data = {k: v for k, v in record.items() if k not in ("schema", "kind")}
        data["code_runs"] = [CodeRun(**run) for run in data.get("code_runs", [])]
        return cls(**data)


@dataclass
class ProblemResult:
    """The outcome of one problem: the voted answer, the tally and every sample."""

    problem_id: str
    answer: str | None
    votes: dict[str, float]
    samples: list[Sample]
    stop_reason: str
    seconds: float
    gold: str | None = None
    correct: bool | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_record(self, with_samples: bool = True) -> dict[str, Any]:
        record = {"schema": SCHEMA_VERSION, "kind": "problem", **asdict(self)}
        if not with_samples:
            record["samples"] = []
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ProblemResult:
        data = {k: v for k, v in record.items() if k not in ("schema", "kind")}
        data["samples"] = [Sample.from_record(s) for s in data.get("samples", [])]
        return cls(**data)
