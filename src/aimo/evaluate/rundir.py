"""A run directory: what an evaluation wrote, written as it goes, and how a killed run resumes.

    runs/NAME/config.json     the RunConfig, dataset, repeats, mode, aimo version, machine
    runs/NAME/samples.jsonl   one line per sample when it finishes (cancelled ones with their problem)
    runs/NAME/problems.jsonl  one line per problem result per repeat (samples left out: see above)

Each line carries its `repeat`. A problem's samples are written before its problem line, so after
a kill the samples of an unfinished problem are orphans: `prepare_resume` drops them (and any
duplicate), and the problem runs again. A timed repeat (a total time budget) cannot be continued
half-way, since its time manager's state is gone: an unfinished timed repeat is dropped whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aimo
from aimo.config import RunConfig
from aimo.errors import AimoError
from aimo.solve.records import RecordWriter, read_records
from aimo.solve.types import ProblemResult, Sample

CONFIG_FILE = "config.json"
SAMPLES_FILE = "samples.jsonl"
PROBLEMS_FILE = "problems.jsonl"
RUN_SCHEMA = 1

Mode = Literal["eval", "competition"]
_RUN_KEYS = ("repeat", "position", "elapsed_s")  # keys a run adds to ProblemResult/Sample records


class RunDirError(AimoError):
    """A run directory that cannot be created, read or resumed."""


@dataclass
class RunInfo:
    """The contents of config.json: everything needed to repeat, resume or report a run."""

    config: RunConfig
    dataset: dict[str, Any]
    problem_ids: list[str]
    repeats: int = 1
    seed: int = 0
    mode: Mode = "eval"
    created: str = ""
    aimo_version: str = aimo.__version__
    machine: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    shard: str | None = None  # "i/n": this run does shard i of n of the work (aimo.evaluate.shards)

    @property
    def timed(self) -> bool:
        """Whether each repeat runs under one total time budget (and so resumes only whole)."""
        return self.config.budget.total_s is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RUN_SCHEMA,
            "mode": self.mode,
            "dataset": self.dataset,
            "repeats": self.repeats,
            "seed": self.seed,
            "problem_ids": self.problem_ids,
            "config": self.config.model_dump(mode="json"),
            "aimo_version": self.aimo_version,
            "created": self.created,
            "machine": self.machine,
            "command": self.command,
            **({"shard": self.shard} if self.shard else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInfo:
        return cls(
            config=RunConfig.from_dict(data["config"], source=CONFIG_FILE),
            dataset=data["dataset"],
            problem_ids=list(data["problem_ids"]),
            repeats=int(data["repeats"]),
            seed=int(data.get("seed", 0)),
            mode=data.get("mode", "eval"),
            created=data.get("created", ""),
            aimo_version=data.get("aimo_version", ""),
            machine=data.get("machine", {}),
            command=data.get("command", []),
            shard=data.get("shard"),
        )


@dataclass(frozen=True)
class EvalRecord:
    """One problem of one repeat, as read back: the result with its samples, its place in the
    repeat's order, and the seconds from the repeat's start to its end (`elapsed_s`)."""

    repeat: int
    position: int
    result: ProblemResult
    elapsed_s: float | None = None


def machine_info() -> dict[str, Any]:
    """Where the run ran: OS, Python, CPUs, memory and GPUs (from nvidia-smi when there is one)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(ValueError, OSError, AttributeError):
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    if shutil.which("nvidia-smi"):
        try:
            done = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            info["gpus"] = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def now_stamp() -> str:
    """The local time as `20250101-120000`, for default run names."""
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


class RunDir:
    """The files of one run. `create` starts a new one; `open` reads an existing one."""

    def __init__(self, path: Path, info: RunInfo) -> None:
        self.path = path
        self.info = info

    @property
    def samples_path(self) -> Path:
        return self.path / SAMPLES_FILE

    @property
    def problems_path(self) -> Path:
        return self.path / PROBLEMS_FILE

    @classmethod
    def create(cls, path: Path, info: RunInfo) -> RunDir:
        """A new run directory with its config.json; refuses one that already holds a run."""
        if (path / CONFIG_FILE).exists():
            raise RunDirError(
                f"{path} already holds a run: pass --resume to continue it, or choose another --out"
            )
        path.mkdir(parents=True, exist_ok=True)
        info.created = info.created or dt.datetime.now().isoformat(timespec="seconds")
        _write_atomic(path / CONFIG_FILE, json.dumps(info.to_json(), indent=2, ensure_ascii=False) + "\n")
        return cls(path, info)

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run directory."""
        config = path / CONFIG_FILE
        if not path.exists():
            raise RunDirError(f"no run directory at {path}")
        if not path.is_dir():
            raise RunDirError(
                f"{path} is not a run directory: resume a run with `aimo eval --resume RUN_DIR`, "
                f"or `aimo eval {path} --out RUN_DIR --resume`"
            )
        if not config.is_file():
            raise RunDirError(f"{path} is not a run directory (no {CONFIG_FILE})")
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
            return cls(path, RunInfo.from_json(data))
        except (ValueError, KeyError) as exc:
            raise RunDirError(f"{config}: not a run config ({exc})") from None

    def writers(self) -> tuple[RecordWriter, RecordWriter]:
        """Appending writers for samples.jsonl and problems.jsonl (an existing run: after `prepare_resume`).

        Sample lines are flushed as they come and synced with their problem's line (`sync()` first).
        """
        samples = RecordWriter(self.samples_path, resume=True, sync_each=False)
        return samples, RecordWriter(self.problems_path, resume=True)

    def prepare_resume(self) -> set[tuple[int, str]]:
        """Drop what a killed run left half-done; return the (repeat, problem id) pairs already finished.

        Problem lines are deduplicated; in a timed run, repeats missing a problem are dropped whole;
        then sample lines whose problem is not finished, and duplicate sample lines, are dropped.
        """
        problems = _unique(read_records(self.problems_path), lambda r: (r["repeat"], r["problem_id"]))
        if self.info.timed:
            expected = set(self.info.problem_ids)
            by_repeat: dict[int, set[str]] = {}
            for record in problems:
                by_repeat.setdefault(record["repeat"], set()).add(record["problem_id"])
            complete = {r for r, ids in by_repeat.items() if ids >= expected}
            problems = [r for r in problems if r["repeat"] in complete]
        done = {(r["repeat"], r["problem_id"]) for r in problems}
        samples = _unique(
            (s for s in read_records(self.samples_path) if (s["repeat"], s["problem_id"]) in done),
            lambda s: (s["repeat"], s["problem_id"], s["index"]),
        )
        _rewrite(self.problems_path, problems)
        _rewrite(self.samples_path, samples)
        return done

    def samples_as_finished(self, repeat: int) -> Iterator[Sample]:
        """One repeat's samples in the order they finished (the order samples.jsonl was written in)."""
        for record in read_records(self.samples_path):
            if record["repeat"] == repeat:
                yield Sample.from_record(_strip(record))

    def records(self) -> list[EvalRecord]:
        """Every finished problem with its samples, by repeat then position."""
        samples: dict[tuple[int, str], list[Sample]] = {}
        for record in read_records(self.samples_path):
            key = (record["repeat"], record["problem_id"])
            samples.setdefault(key, []).append(Sample.from_record(_strip(record)))
        found = []
        seen: set[tuple[int, str]] = set()
        for record in read_records(self.problems_path):
            key = (record["repeat"], record["problem_id"])
            if key in seen:
                continue
            seen.add(key)
            result = ProblemResult.from_record(_strip(record))
            result.samples = sorted(samples.get(key, []), key=lambda s: s.index)
            found.append(
                EvalRecord(record["repeat"], record.get("position", 0), result, record.get("elapsed_s"))
            )
        return sorted(found, key=lambda r: (r.repeat, r.position))


def sample_record(repeat: int, sample: Sample) -> dict[str, Any]:
    """The samples.jsonl line of a sample."""
    return {"repeat": repeat, **sample.to_record()}


def problem_record(repeat: int, position: int, result: ProblemResult) -> dict[str, Any]:
    """The problems.jsonl line of a result (its samples are in samples.jsonl)."""
    return {"repeat": repeat, "position": position, **result.to_record(with_samples=False)}


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in _RUN_KEYS}


def _unique(
    records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]
) -> list[dict[str, Any]]:
    seen: set[Hashable] = set()
    kept = []
    for record in records:
        k = key(record)
        if k not in seen:
            seen.add(k)
            kept.append(record)
    return kept


def _rewrite(path: Path, records: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
    _write_atomic(path, text)


def _write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a kill leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
