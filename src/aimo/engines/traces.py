"""Recorded samples to replay: aimo's own JSONL trace format, and converters for public trace files.

aimo's format (docs/traces.md) is one JSON object a line, one line per problem:

    {"problem_id": "p1", "problem": "text", "gold": "42",
     "samples": [{"text": "... \\boxed{42}", "completion_tokens": 812},
                 {"answer": "41", "completion_tokens": 990}]}

Samples are listed in sampling order. A sample holds its full `text`, or only its `answer` (plus
token counts), or both. `load_traces` also reads, detected from the first line:
- ConSol's `consol_aime24_all_runs.jsonl` (`run`, `problem_index`, `gold_inferred`, `answers`,
  `token_usage`): one run of it, chosen with `run=` or a `FILE#RUN` suffix (default `o3minilow-aime24-vote`);
- Qwen2.5-Math's `math_cot_100.jsonl` (`idx`, `question`, `answer`, `code[]`, `pred[]`, `score[]`);
- aimo's own problem records (`kind: "problem"`, as `ProblemResult.to_record()` writes them);
- an `aimo eval` run directory (`problems.jsonl` + `samples.jsonl`; its first repeat).

Sample records keep what a replay needs of their meta: per-token `logprobs` (`--record-logprobs`),
the `confidence` summary and a reward-model score (`reward`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimo.errors import AimoError
from aimo.jsonl import read_jsonl_objects

TRACE_SCHEMA = 1
# What a sample's recorded meta carries into a replay: per-token logprobs (the confidence series),
# the confidence summary and a reward-model score.
_REPLAYED_META = ("logprobs", "confidence", "reward")
CONSOL_DEFAULT_RUN = "o3minilow-aime24-vote"


class TraceError(AimoError, ValueError):
    """A trace file cannot be read (missing, unknown format, bad line)."""


@dataclass(frozen=True)
class TraceSample:
    """One recorded sample: its text, or its answer and token counts, or both."""

    text: str | None = None
    answer: str | None = None
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        # "answer" stays even when None: an answer-only sample may record "no answer".
        record: dict[str, Any] = {
            k: v for k, v in vars(self).items() if k != "meta" and (v is not None or k == "answer")
        }
        if self.meta:
            record["meta"] = dict(self.meta)
        return record


@dataclass(frozen=True)
class TraceProblem:
    """A problem with its gold answer and its recorded samples in sampling order."""

    problem_id: str
    text: str
    gold: str | None
    samples: tuple[TraceSample, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "schema": TRACE_SCHEMA,
            "problem_id": self.problem_id,
            "problem": self.text,
            "gold": self.gold,
            "samples": [s.to_record() for s in self.samples],
        }
        if self.meta:
            record["meta"] = dict(self.meta)
        return record


def load_traces(path: str | Path, run: str | None = None) -> list[TraceProblem]:
    """Read a trace file in any supported format (see the module doc). `run` picks a ConSol run."""
    path, run = _split_run(Path(path), run)
    if path.is_dir():
        return _from_run_dir(path)
    rows = list(_read_jsonl(path))
    if not rows:
        return []
    kind = _detect(rows[0][1])
    if kind is None:
        raise TraceError(
            f"{path}: unknown trace format (first line has keys {sorted(rows[0][1])}); see docs/traces.md"
        )
    if kind == "consol":
        return _from_consol(path, rows, run or CONSOL_DEFAULT_RUN)
    if run is not None:
        raise TraceError(f"{path}: run={run!r} given, but only ConSol trace files hold several runs")
    loader = _ROW_LOADERS[kind]
    return [_at_line(path, line, loader, row) for line, row in rows]


def load_problems_from_traces(path: str | Path, run: str | None = None) -> list[TraceProblem]:
    """The problems of a trace file (id, text, gold) for the harness; their samples come along."""
    return load_traces(path, run)


def consol_runs(path: str | Path) -> list[str]:
    """The run names in a ConSol trace file, in file order."""
    names: dict[str, None] = {}
    for _, row in _read_jsonl(Path(path)):
        names.setdefault(str(row.get("run")), None)
    return list(names)


def write_traces(path: str | Path, problems: Iterable[TraceProblem]) -> None:
    """Write problems in aimo's trace format (one JSON line per problem)."""
    with Path(path).open("w", encoding="utf-8") as out:
        for problem in problems:
            out.write(json.dumps(problem.to_record(), ensure_ascii=False) + "\n")


def answer_text(value: Any) -> str | None:
    """A recorded answer as text: integers without ".0", None stays None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- formats --------------------------------------------------------------------------------------


def _from_aimo(row: Mapping[str, Any]) -> TraceProblem:
    samples = tuple(_sample_from_aimo(s) for s in row.get("samples", []))
    problem_id = row.get("problem_id", row.get("id"))
    if problem_id is None:
        raise ValueError("missing 'problem_id'")
    gold = row.get("gold", row.get("answer"))
    text = row.get("problem", row.get("text", ""))
    return TraceProblem(str(problem_id), str(text), answer_text(gold), samples, dict(row.get("meta", {})))


def _sample_from_aimo(sample: Mapping[str, Any]) -> TraceSample:
    if not isinstance(sample, Mapping):
        raise ValueError(f"a sample must be an object, got {sample!r}")
    if sample.get("text") is None and "answer" not in sample:
        raise ValueError("a sample needs 'text' or 'answer'")
    return TraceSample(
        text=sample.get("text"),
        answer=answer_text(sample.get("answer")),
        completion_tokens=_optional_int(sample.get("completion_tokens")),
        prompt_tokens=_optional_int(sample.get("prompt_tokens")),
        meta=dict(sample.get("meta", {})),
    )


def _from_run_dir(path: Path) -> list[TraceProblem]:
    """An `aimo eval` run directory: its first repeat's problems, each with its samples."""
    problems_file, samples_file = path / "problems.jsonl", path / "samples.jsonl"
    if not problems_file.is_file():
        raise TraceError(f"{path}: not a trace file or an aimo eval run directory (no problems.jsonl)")
    samples: dict[str, list[dict[str, Any]]] = {}
    if samples_file.is_file():
        for _, row in _read_jsonl(samples_file):
            if row.get("repeat", 0) == 0 and row.get("kind") == "sample":
                samples.setdefault(str(row.get("problem_id")), []).append(row)
    return [
        _at_line(
            problems_file,
            line,
            _from_results,
            {**row, "samples": samples.get(str(row.get("problem_id")), [])},
        )
        for line, row in _read_jsonl(problems_file)
        if row.get("repeat", 0) == 0 and row.get("kind") == "problem"
    ]


def _from_results(row: Mapping[str, Any]) -> TraceProblem:
    """An aimo `ProblemResult` record: samples in launch order; the problem text if meta holds it."""
    samples = sorted(row.get("samples", []), key=lambda s: s.get("index", 0))
    meta = row.get("meta", {}) or {}
    return TraceProblem(
        problem_id=str(row["problem_id"]),
        text=str(meta.get("problem", "")),
        gold=answer_text(row.get("gold")),
        samples=tuple(
            TraceSample(
                text=s.get("text") or None,
                answer=answer_text(s.get("answer")),
                completion_tokens=_optional_int(s.get("completion_tokens")),
                prompt_tokens=_optional_int(s.get("prompt_tokens")),
                meta={k: v for k, v in (s.get("meta") or {}).items() if k in _REPLAYED_META},
            )
            for s in samples
        ),
    )


def _from_math_cot(row: Mapping[str, Any]) -> TraceProblem:
    texts = row["code"]
    preds = row.get("pred") or [None] * len(texts)
    scores = row.get("score") or [None] * len(texts)
    rewards = row.get("pred_score") or [None] * len(texts)
    samples = tuple(
        TraceSample(text=text, answer=answer_text(pred), meta=_math_cot_meta(score, reward))
        for text, pred, score, reward in zip(texts, preds, scores, rewards, strict=True)
    )
    meta = {k: row[k] for k in ("level", "gt") if k in row}
    return TraceProblem(
        f"math_cot-{row['idx']}", str(row["question"]), answer_text(row["answer"]), samples, meta
    )


def _math_cot_meta(score: Any, reward: Any) -> dict[str, Any]:
    """A math_cot sample's grade and reward-model score (`pred_score` is a one-element list)."""
    if isinstance(reward, list):
        reward = reward[0] if reward else None
    meta: dict[str, Any] = {"correct": score}
    if reward is not None:
        meta["reward"] = float(reward)
    return meta


def _from_consol(path: Path, rows: Sequence[tuple[int, Mapping[str, Any]]], run: str) -> list[TraceProblem]:
    chosen = [(line, row) for line, row in rows if row.get("run") == run]
    if not chosen:
        names = ", ".join(dict.fromkeys(str(row.get("run")) for _, row in rows))
        raise TraceError(f"{path}: no run {run!r}; runs: {names}")
    return [_at_line(path, line, _consol_problem, row) for line, row in sorted(chosen, key=_problem_index)]


def _consol_problem(row: Mapping[str, Any]) -> TraceProblem:
    index = int(row["problem_index"])
    answers, tokens = row["answers"], row["token_usage"]
    if len(answers) != len(tokens):
        raise ValueError("'answers' and 'token_usage' differ in length")
    return TraceProblem(
        problem_id=f"consol-aime24-{index}",
        # The file does not include the problem statements.
        text=f"AIME 2024 problem {index} of the ConSol traces (statement not recorded).",
        gold=answer_text(row.get("gold_inferred")),
        samples=tuple(
            TraceSample(answer=answer_text(a), completion_tokens=int(t))
            for a, t in zip(answers, tokens, strict=True)
        ),
        meta={"run": row["run"], "problem_index": index},
    )


def _problem_index(item: tuple[int, Mapping[str, Any]]) -> int:
    return int(item[1].get("problem_index", 0))


_ROW_LOADERS: dict[str, Callable[[Mapping[str, Any]], TraceProblem]] = {
    "aimo": _from_aimo,
    "results": _from_results,
    "math_cot": _from_math_cot,
}


def _detect(row: Mapping[str, Any]) -> str | None:
    """The format of a trace file from its first row (None: unknown)."""
    if {"run", "answers", "token_usage"} <= row.keys():
        return "consol"
    if {"idx", "question", "code"} <= row.keys():
        return "math_cot"
    if row.get("kind") == "problem" and "samples" in row:
        return "results"
    if "samples" in row:
        return "aimo"
    return None


# -- reading ------------------------------------------------------------------------------------------


def _split_run(path: Path, run: str | None) -> tuple[Path, str | None]:
    """`FILE#RUN` selects a run, unless a file of that very name exists."""
    text = str(path)
    if "#" in text and not path.exists():
        file, _, name = text.rpartition("#")
        return Path(file), run or name or None
    return path, run


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise TraceError(f"trace file not found: {path}")
    yield from read_jsonl_objects(path, TraceError)


def _at_line(
    path: Path, line: int, loader: Callable[[Mapping[str, Any]], TraceProblem], row: Mapping[str, Any]
) -> TraceProblem:
    try:
        return loader(row)
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise TraceError(f"{path}:{line}: {detail}") from None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
