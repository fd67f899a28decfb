"""What `aimo eval DATASET` evaluates: a problem file, a trace file to replay, or a known dataset name.

A known name (`aimo eval aime2024`) reads the copy in the shared data folder (`$AIMO_SHARED_DATA/sets`)
when there is one, else fetches the Hugging Face dataset through the optional `datasets` package.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from aimo.engines.traces import TraceProblem, load_traces
from aimo.errors import AimoError
from aimo.problems import FieldNames, Problem, load_problems
from aimo.solve.run import problems_from_traces
from aimo.solve.simulate import shared_data_dir
from aimo.solve.voting import majority, normalize_key

DatasetKind = Literal["file", "traces", "hf"]


class DatasetError(AimoError):
    """A dataset that cannot be found or fetched."""


@dataclass(frozen=True)
class KnownDataset:
    """A dataset `aimo eval` knows by name: its Hugging Face id and the fields of its rows."""

    hf_id: str | None
    split: str = "train"
    local: str | None = None  # file name under the shared data folder's `sets/`
    fields: FieldNames = field(default_factory=FieldNames)
    description: str = ""


KNOWN_DATASETS: dict[str, KnownDataset] = {
    "aime2024": KnownDataset(
        "HuggingFaceH4/aime_2024", local="aime2024.jsonl", description="AIME 2024 I and II, 30 problems"
    ),
    "aime2025": KnownDataset(
        "MathArena/aime_2025",
        local="aime2025.jsonl",
        fields=FieldNames(id="problem_idx"),
        description="AIME 2025 I and II, 30 problems",
    ),
    "math500": KnownDataset(
        "HuggingFaceH4/MATH-500",
        split="test",
        local="math500.jsonl",
        fields=FieldNames(id="unique_id"),
        description="MATH-500, LaTeX answers",
    ),
    "aimo-validation-aime": KnownDataset(
        "AI-MO/aimo-validation-aime", local="aime2022_2024.jsonl", description="AIME 2022-2024, 90 problems"
    ),
    "aimo-validation-amc": KnownDataset(
        "AI-MO/aimo-validation-amc", local="amc2022_2023.jsonl", description="AMC 2022-2023, 83 problems"
    ),
    "aimo2-reference": KnownDataset(
        None,
        local="aimo2_reference.csv",
        description="the 10 AIMO-2 reference problems (Kaggle's reference.csv; not on the hub)",
    ),
}


@dataclass(frozen=True)
class Dataset:
    """Problems to evaluate, where they came from, and the trace file's own scores when it has them."""

    name: str
    spec: str  # what was given on the command line
    source: str  # the file read or the hub id fetched
    kind: DatasetKind
    problems: list[Problem]
    recorded: list[TraceProblem] = field(default_factory=list)  # a trace file's samples

    def reference(self, problem_ids: Collection[str] | None = None) -> dict[str, float]:
        """The trace file's own scores over `problem_ids` (default all); {} when it has none."""
        wanted = [t for t in self.recorded if problem_ids is None or t.problem_id in problem_ids]
        return reference_scores(wanted)

    def describe(self, problem_ids: Collection[str] | None = None) -> dict[str, Any]:
        """The dataset part of a run's config.json (its reference scores over `problem_ids`)."""
        return {
            "name": self.name,
            "spec": self.spec,
            "source": self.source,
            "kind": self.kind,
            "problems": len(self.problems),
            "reference": self.reference(problem_ids),
        }


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths (either may carry a `#RUN` suffix) name the same file."""
    return Path(str(a).split("#")[0]).resolve() == Path(str(b).split("#")[0]).resolve()


def resolve_dataset(spec: str, traces: str | None = None, fields: FieldNames | None = None) -> Dataset:
    """The problems of `spec`: the trace file being replayed, a problem file, or a known dataset name."""
    if traces is not None and same_file(spec, traces):
        return Dataset(_short_name(spec), spec, spec, "traces", problems_from_traces(spec), load_traces(spec))
    if Path(spec).is_file():
        return Dataset(_short_name(spec), spec, spec, "file", load_problems(spec, fields))
    known = KNOWN_DATASETS.get(spec)
    if known is None:
        if spec.endswith((".jsonl", ".json", ".csv", ".parquet")) or "/" in spec:
            raise DatasetError(f"problem file not found: {spec}")
        names = ", ".join(KNOWN_DATASETS)
        raise DatasetError(f"{spec!r} is neither a problem file nor a known dataset ({names})")
    local = shared_data_dir() / "sets" / known.local if known.local else None
    if local is not None and local.is_file():
        return Dataset(spec, spec, str(local), "file", load_problems(local, fields))
    if known.hf_id is None:
        raise DatasetError(f"{spec}: {known.description}; pass the file's path instead")
    return Dataset(spec, spec, known.hf_id, "hf", load_hf_dataset(known, fields))


def load_hf_dataset(known: KnownDataset, fields: FieldNames | None = None) -> list[Problem]:
    """Fetch a known dataset from the Hugging Face hub (needs the optional `datasets` package)."""
    assert known.hf_id is not None
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError:
        raise DatasetError(
            f"{known.hf_id}: fetching datasets needs the `datasets` package: pip install 'aimo[datasets]'"
        ) from None
    unreachable = _hub_unreachable()
    if unreachable:
        raise DatasetError(
            f"could not fetch {known.hf_id}: {unreachable}; offline? pass a local problem file instead "
            "(HF_DATASETS_OFFLINE=1 reads a cached copy)"
        )
    try:
        rows = datasets.load_dataset(known.hf_id, split=known.split)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DatasetError(
            f"could not fetch {known.hf_id} from the Hugging Face hub (offline?): {reason}; "
            "pass a local problem file instead"
        ) from None
    return problems_from_rows(list(rows), fields or known.fields, known.hf_id)


def problems_from_rows(rows: Sequence[dict[str, Any]], fields: FieldNames, source: str) -> list[Problem]:
    """Problems from dataset rows, with the usual field names unless `fields` names them."""
    id_field = fields.id or _first_present(rows, ("id", "problem_id", "unique_id", "problem_idx"))
    text_field = fields.text or _first_present(rows, ("problem", "question", "text"))
    answer_field = fields.answer or _first_present(rows, ("answer", "gold", "expected_answer"))
    if text_field is None:
        raise DatasetError(f"{source}: no problem text field in its rows")
    problems = []
    for n, row in enumerate(rows):
        problem_id = str(row[id_field]) if id_field else str(n)
        answer = row.get(answer_field) if answer_field else None
        meta = {k: v for k, v in row.items() if k not in (id_field, text_field, answer_field)}
        problems.append(
            Problem(problem_id, str(row[text_field]), None if answer is None else str(answer), meta)
        )
    return problems


def reference_scores(recorded: Sequence[TraceProblem]) -> dict[str, float]:
    """The trace file's own pass@1 and maj@n, when every sample records its correctness (`meta.correct`)."""
    samples = [s for p in recorded for s in p.samples]
    if not samples or any(s.meta.get("correct") is None for s in samples):
        return {}
    scored = [p for p in recorded if p.samples]
    pass1 = statistics.fmean(statistics.fmean(bool(s.meta["correct"]) for s in p.samples) for p in scored)
    voted = 0
    for problem in scored:
        top = majority([s.answer for s in problem.samples])
        voted += any(bool(s.meta["correct"]) for s in problem.samples if normalize_key(s.answer) == top)
    n = max(len(p.samples) for p in scored)
    return {"pass@1": pass1, f"maj@{n}": voted / len(scored)}


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached, found fast (a failed name lookup), else None.

    Without it an offline machine spends half a minute in retries. Skipped where a proxy is set
    (names resolve there) or offline mode is on (`datasets` then reads its cache at once).
    """
    proxies = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
    offline = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    if any(os.environ.get(name) for name in proxies + offline):
        return None
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as exc:
        return f"cannot resolve {host} ({exc.strerror or exc})"
    return None


def _first_present(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> str | None:
    return next((name for name in names if rows and name in rows[0]), None)


def _short_name(spec: str) -> str:
    stem = Path(spec.split("#")[0]).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem) or "dataset"
