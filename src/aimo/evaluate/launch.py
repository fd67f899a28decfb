"""Starting or resuming an evaluation: the run directory, its problems, what is already done; running it."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aimo.config import RunConfig
from aimo.engines.base import Engine
from aimo.engines.factory import open_engine
from aimo.engines.traces import load_traces
from aimo.evaluate.analysis import ESTIMATE_FILE
from aimo.evaluate.competition import as_replayed, offline_estimate
from aimo.evaluate.datasets import Dataset, resolve_dataset
from aimo.evaluate.outcomes import Grader
from aimo.evaluate.rundir import CONFIG_FILE, Mode, RunDir, RunDirError, RunInfo, machine_info, now_stamp
from aimo.evaluate.runner import RepeatCallback, run_eval
from aimo.evaluate.shards import not_owned, shard_dir
from aimo.models import Progress
from aimo.problems import FieldNames, Problem
from aimo.solve.pool import SampleSlots
from aimo.solve.run import sandbox_for


@dataclass
class EvalRequest:
    """What `aimo eval DATASET …` asks for."""

    dataset: str
    config: RunConfig
    repeats: int = 1
    mode: Mode = "eval"
    out: Path | None = None
    fields: FieldNames = field(default_factory=FieldNames)
    limit: int | None = None
    shard: tuple[int, int] | None = None  # do only shard i of n of the work (aimo.evaluate.shards)
    command: list[str] = field(default_factory=lambda: list(sys.argv))

    def default_out(self, name: str) -> Path:
        return Path("runs") / f"{name}-{now_stamp()}"


@dataclass
class Session:
    """A run ready to go: its directory, its problems, and the (repeat, problem) pairs already done."""

    run: RunDir
    problems: list[Problem]
    dataset: Dataset
    done: set[tuple[int, str]]

    @property
    def todo(self) -> int:
        return self.run.info.repeats * len(self.problems) - len(self.done)


def start(request: EvalRequest, resume: bool = False) -> Session:
    """A new run of `request`, or (`resume` and the directory holds one) the same run continued."""
    dataset = resolve_dataset(request.dataset, request.config.engine.traces, request.fields)
    problems = dataset.problems[: request.limit] if request.limit else dataset.problems
    out = request.out or request.default_out(dataset.name)
    if request.shard is not None:
        if request.out is None:
            raise RunDirError(
                "--shard needs --out DIR, the same for every shard (each writes DIR/shard-i-of-n)"
            )
        out = shard_dir(out, request.shard)
    if resume and (out / CONFIG_FILE).is_file():
        run = RunDir.open(out)
        _check_same(run.info, request, [p.id for p in problems])
        return Session(run, problems, dataset, run.prepare_resume() | not_owned(run.info))
    info = RunInfo(
        config=request.config,
        dataset={
            **dataset.describe({p.id for p in problems}),
            "fields": vars(request.fields),
            "limit": request.limit,
        },
        problem_ids=[p.id for p in problems],
        repeats=request.repeats,
        seed=request.config.sampling.seed or 0,
        mode=request.mode,
        machine=machine_info(),
        command=request.command,
        shard=None if request.shard is None else f"{request.shard[0]}/{request.shard[1]}",
    )
    return Session(RunDir.create(out, info), problems, dataset, not_owned(info))


def resume(path: Path) -> Session:
    """Continue the run in `path` with its own config.json (`aimo eval --resume DIR`)."""
    run = RunDir.open(path)
    info = run.info
    fields = FieldNames(**(info.dataset.get("fields") or {}))
    dataset = resolve_dataset(info.dataset["spec"], info.config.engine.traces, fields)
    by_id = {p.id: p for p in dataset.problems}
    missing = [i for i in info.problem_ids if i not in by_id]
    if missing:
        raise RunDirError(
            f"{info.dataset['spec']} no longer holds problem {missing[0]!r} of the run in {path}"
        )
    return Session(run, [by_id[i] for i in info.problem_ids], dataset, run.prepare_resume() | not_owned(info))


def _check_same(info: RunInfo, request: EvalRequest, problem_ids: list[str]) -> None:
    """Resuming with options that differ from the run's would mix two experiments: refuse, naming
    every difference."""
    stored, given = info.config.model_dump(mode="json"), request.config.model_dump(mode="json")
    compared = [
        (f"{section}.{key}", value, stored.get(section, {}).get(key))
        for section, values in given.items()
        for key, value in values.items()
    ]
    compared += [
        ("repeats", request.repeats, info.repeats),
        ("mode", request.mode, info.mode),
        ("problems", len(problem_ids), len(info.problem_ids)),
    ]
    differences = [
        f"{name} {json.dumps(here)} here, {json.dumps(there)} in the run"
        for name, here, there in compared
        if here != there
    ]
    if not differences and problem_ids != info.problem_ids:
        differences.append("the problems differ (same count, other ids or order)")
    if differences:
        raise RunDirError(
            f"--resume: the options differ from the run's ({'; '.join(differences)}); "
            "resume with the same options, or with `aimo eval --resume DIR` alone"
        )


async def execute(
    session: Session,
    *,
    on_result: RepeatCallback | None = None,
    progress: Progress | None = None,
    concurrency: int | None = None,
    engine: Engine | None = None,
) -> SampleSlots | None:
    """Run what is left of the session (engine and sandbox opened here), then its offline estimate.

    An evaluation-mode run keeps up to `concurrency` samples in flight across problems and repeats
    (default: what saturates the engine); a competition run takes its problems one at a time. The
    engine is opened here unless an open one is given (then it stays open: the caller measures more on it)."""
    config = session.run.info.config
    slots = None
    if session.todo > 0:
        if session.run.info.mode == "competition":
            concurrency = None
        elif concurrency is None:
            concurrency = config.engine.saturating_concurrency()
        async with contextlib.AsyncExitStack() as stack:
            engine_config = config.engine_for_run(concurrency)
            if engine is None:
                engine = await stack.enter_async_context(open_engine(engine_config, progress=progress))
            sandbox = await stack.enter_async_context(sandbox_for(config.strategy, config.sandbox))
            slots = await run_eval(
                engine,
                session.problems,
                session.run,
                sandbox=sandbox,
                done=session.done,
                on_result=on_result,
                concurrency=concurrency,
            )
    write_estimate(session)
    return slots


def write_estimate(session: Session) -> Path | None:
    """For a competition run replayed at a set speed: simulated orders of the same traces (estimate.json)."""
    info = session.run.info
    config = info.config
    speed = config.engine.replay_tokens_per_s
    if (
        info.mode != "competition"
        or config.engine.engine != "replay"
        or not speed
        or not config.engine.traces
    ):
        return None
    ids = set(info.problem_ids)
    recorded = [p for p in load_traces(config.engine.traces) if p.problem_id in ids]
    estimate = offline_estimate(
        as_replayed(recorded, config.strategy.answer_mode),
        config.budget,
        samples=config.strategy.samples,
        stop_rules=config.strategy.stop_rules,
        tokens_per_s=speed,
        grade=Grader(config.strategy.answer_mode),
        seed=info.seed,
    )
    path = session.run.path / ESTIMATE_FILE
    path.write_text(json.dumps(estimate, indent=2) + "\n", encoding="utf-8")
    return path
