"""Running an evaluation: every repeat of every problem through `solve_problems`, written as it finishes.

Repeat r samples with seed `seed + 1000 r` (sample i then uses that + i). With the replay engine a
seed changes nothing, so repeat r > 0 plays each problem's recorded samples in a seeded random
order instead (a different subset when the trace holds more samples than asked for): the replay
counterpart of sampling again. In competition mode every repeat takes the problems in its own
random order under one total time budget (`BudgetConfig.total_s`), as on Kaggle.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import AsyncGenerator, Callable, Collection, Iterator, Sequence

from aimo.engines.base import Chunk, Engine, GenerationRequest
from aimo.engines.replay import ReplayEngine
from aimo.evaluate.rundir import RunDir, RunInfo, problem_record, sample_record
from aimo.problems import Problem
from aimo.solve.pool import Job, SampleSlots, pooled_solver, solve_pool
from aimo.solve.records import RecordWriter
from aimo.solve.run import RunSettings, solve_problems
from aimo.solve.sessions import SessionSource
from aimo.solve.types import ProblemResult, Sample

SEED_STRIDE = 1000
RepeatCallback = Callable[[int, ProblemResult], None]


def repeat_seed(base: int, repeat: int) -> int:
    """The sampling seed of a repeat."""
    return base + SEED_STRIDE * repeat


def problem_order(problems: Sequence[Problem], seed: int, shuffle: bool) -> list[Problem]:
    """The problems in file order, or (competition mode) in a random order drawn from `seed`."""
    if not shuffle:
        return list(problems)
    return random.Random(f"order:{seed}").sample(list(problems), len(problems))


class ResampledReplay:
    """A replay engine whose sample i of a problem plays recorded sample perm(i), perm drawn from a seed."""

    name = "replay"

    def __init__(self, engine: ReplayEngine, seed: int) -> None:
        self.engine = engine
        self.seed = seed
        self._perms: dict[str, list[int]] = {}

    def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        problem_id, index = request.meta.get("problem_id"), request.meta.get("sample_index")
        recorded = self.engine.problems.get(str(problem_id))
        if recorded is None or index is None or not 0 <= int(index) < len(recorded.samples):
            return self.engine.stream(request)
        perm = self._perms.get(recorded.problem_id)
        if perm is None:
            count = len(recorded.samples)
            perm = random.Random(f"{self.seed}:{recorded.problem_id}").sample(range(count), count)
            self._perms[recorded.problem_id] = perm
        meta = {**request.meta, "sample_index": perm[int(index)]}
        return self.engine.stream(dataclasses.replace(request, meta=meta))

    async def aclose(self) -> None:
        """Nothing to release: the wrapped engine belongs to the caller."""


def engine_for_repeat(engine: Engine, seed: int, repeat: int) -> Engine:
    """The engine as repeat `repeat` sees it (see the module doc)."""
    if repeat == 0 or not isinstance(engine, ReplayEngine):
        return engine
    return ResampledReplay(engine, seed)


class _RepeatWriter:
    """Writes one repeat's samples as they finish and each problem once it is done (samples first)."""

    def __init__(
        self,
        repeat: int,
        order: Sequence[Problem],
        samples_out: RecordWriter,
        problems_out: RecordWriter,
        on_result: RepeatCallback | None,
    ) -> None:
        self.repeat = repeat
        self.positions = {p.id: i for i, p in enumerate(order)}
        self.samples_out = samples_out
        self.problems_out = problems_out
        self.on_result = on_result
        self.written: set[tuple[str, int]] = set()
        self.started = time.monotonic()

    def sample(self, sample: Sample) -> None:
        self.samples_out.write(sample_record(self.repeat, sample))
        self.written.add((sample.problem_id, sample.index))

    def result(self, result: ProblemResult) -> None:
        for sample in result.samples:  # the cancelled ones, which never reached `sample`
            if (sample.problem_id, sample.index) not in self.written:
                self.sample(sample)
        record = problem_record(self.repeat, self.positions[result.problem_id], result)
        record["elapsed_s"] = time.monotonic() - self.started
        self.samples_out.sync()  # a problem's line never reaches the disk before its samples
        self.problems_out.write(record)
        if self.on_result:
            self.on_result(self.repeat, result)


def _repeats_to_do(
    info: RunInfo, problems: Sequence[Problem], done: Collection[tuple[int, str]]
) -> Iterator[tuple[int, int, list[Problem], list[Problem]]]:
    """(repeat, seed, its problem order, its problems not in `done`) of each repeat with work left."""
    for repeat in range(info.repeats):
        seed = repeat_seed(info.seed, repeat)
        order = problem_order(problems, seed, shuffle=info.mode == "competition")
        todo = [p for p in order if (repeat, p.id) not in done]
        if todo:
            yield repeat, seed, order, todo


async def run_eval(
    engine: Engine,
    problems: Sequence[Problem],
    run: RunDir,
    *,
    sandbox: SessionSource | None = None,
    done: Collection[tuple[int, str]] = (),
    on_result: RepeatCallback | None = None,
    concurrency: int | None = None,
) -> SampleSlots | None:
    """Every repeat of `run.info` over `problems`, skipping the (repeat, problem id) pairs in `done`.

    With `concurrency` K (and no time budget) the (repeat, problem) work runs concurrently with at
    most K samples in flight, and the slots are returned (their `peak` shows what ran at once);
    otherwise problems run one after another, as in competition mode, and None is returned."""
    info = run.info
    samples_out, problems_out = run.writers()
    from aimo.data.scheduler import token_prior  # the scheduler's embeddings load only when asked for

    prior = token_prior(info.config.budget.token_scheduler)
    try:
        budget = info.config.budget
        if concurrency is not None and budget.total_s is None and budget.per_problem_max_s is None:
            return await _run_pooled(
                engine, problems, run, samples_out, problems_out, sandbox, done, on_result, concurrency
            )
        for repeat, seed, order, todo in _repeats_to_do(info, problems, done):
            writer = _RepeatWriter(repeat, order, samples_out, problems_out, on_result)
            sampling = info.config.sampling.model_copy(update={"seed": seed})
            settings = RunSettings(info.config.strategy, sampling, info.config.budget, prior)
            await solve_problems(
                engine_for_repeat(engine, seed, repeat),
                todo,
                settings,
                sandbox,
                on_result=writer.result,
                on_sample=writer.sample,
            )
        return None
    finally:
        samples_out.close()
        problems_out.close()


async def _run_pooled(
    engine: Engine,
    problems: Sequence[Problem],
    run: RunDir,
    samples_out: RecordWriter,
    problems_out: RecordWriter,
    sandbox: SessionSource | None,
    done: Collection[tuple[int, str]],
    on_result: RepeatCallback | None,
    concurrency: int,
) -> SampleSlots:
    """All repeats' unfinished problems as one queue of jobs under `concurrency` samples in flight."""
    info = run.info
    slots = SampleSlots(concurrency)
    writers: dict[int, _RepeatWriter] = {}
    jobs: list[Job] = []
    for repeat, seed, order, todo in _repeats_to_do(info, problems, done):
        writers[repeat] = _RepeatWriter(repeat, order, samples_out, problems_out, on_result)
        sampling = info.config.sampling.model_copy(update={"seed": seed})
        solver = pooled_solver(
            engine_for_repeat(engine, seed, repeat), info.config.strategy, sampling, slots, sandbox
        )
        solver.resume_run_gate(run.samples_as_finished(repeat))
        jobs += [Job(problem, solver, repeat) for problem in todo]
    await solve_pool(
        jobs,
        slots,
        on_sample=lambda job, sample: writers[job.tag].sample(sample),
        on_result=lambda job, result: writers[job.tag].result(result),
    )
    return slots
