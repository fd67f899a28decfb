"""Recorded samples replayed as they would arrive from a pool of samples running at once.

`width` samples run at once at the same decode speed (one token per time unit each); they start in
sampling order and a new one starts whenever one ends, so answers arrive in order of finish time:
with `width=1` that is sampling order, with `width` = all samples it is shortest first. Stopping at
time t costs every started sample its tokens up to t. This is how aimo runs a problem's samples, and
why agreement among the first finishers (the shortest answers) is weaker evidence than in sampling order.

DeepConf online (`OnlineConfidence`) runs on samples that recorded per-token logprobs
(`meta["logprobs"]`): the first `warmup` samples to finish set the threshold at the moment the last
of them arrives; from then on every running sample is cut at the first token whose group confidence
is below it, and a cut sample does not vote; but while no answer has arrived, a problem's last running
sample is not cut when no more are to start (as `aimo.solve.confidence.ProblemGate`). With
`scope="run"` the warm-up counts the first problems' samples (in trace order) and its threshold holds
for every problem after.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from aimo.engines.replay import CHARS_PER_TOKEN
from aimo.engines.traces import TraceProblem, TraceSample
from aimo.solve.confidence import (
    DEFAULT_WINDOW,
    ConfidenceGate,
    ConfidenceMeter,
    OnlineConfidence,
    first_below,
    is_below,
    summarize,
)
from aimo.solve.stopping import StopRule, check_stop
from aimo.solve.types import Sample, sample_fields_from_meta
from aimo.solve.voting import VoteConfig, max_sample_weight, sample_weights, tally, winner

_WINDOW, _END = 0, 1  # replay events: a sample's first full window (warm-up), a sample's end


@dataclass(frozen=True)
class Replayed:
    """One problem replayed: the voted answer, tokens spent, answers used, samples cut for low confidence."""

    answer: str | None
    tokens: int
    used: int
    cut: int


def as_sample(
    problem: TraceProblem, index: int, recorded: TraceSample, window: int = DEFAULT_WINDOW
) -> Sample:
    """A recorded sample as the harness's `Sample` (with its confidence summary, recomputed at `window`
    from its per-token logprobs when it has them, and its reward, if any)."""
    meta = dict(recorded.meta)
    series = meta.get("logprobs")
    if series and (summary := summarize(series, window)) is not None:  # at this replay's window
        meta["confidence"] = summary.to_record()
    return Sample(
        problem.problem_id,
        index,
        "cot",
        text=recorded.text or "",
        answer=recorded.answer,
        completion_tokens=recorded.completion_tokens or _estimated_tokens(recorded),
        **sample_fields_from_meta(meta),
    )


def replay_problem(
    problem: TraceProblem,
    rules: Sequence[StopRule],
    width: int,
    vote: VoteConfig | None = None,
    online: OnlineConfidence | None = None,
    max_samples: int | None = None,
    gate: ConfidenceGate | None = None,
) -> Replayed:
    """Replay one problem's samples through a pool of `width` (see the module doc). `gate`: DeepConf
    online's gate shared with other problems (`online.scope == "run"`); else `online` makes one."""
    vote = vote or VoteConfig()
    recorded = list(problem.samples[:max_samples])
    window = online.window if online else DEFAULT_WINDOW
    samples = [as_sample(problem, i, s, window) for i, s in enumerate(recorded)]
    total = len(samples)
    if gate is None and online is not None:
        gate = online.gate(total)
    started: dict[int, int] = {}  # sample index -> start time
    ends: dict[int, tuple[int, bool]] = {}  # sample index -> (end time, cut for low confidence)
    queue: list[tuple[int, int, int]] = []  # (time, event, index): _WINDOW before _END at one time
    arrived: list[Sample] = []
    next_index, now, cut = 0, 0, 0

    def start(index: int, at: int) -> None:
        started[index] = at
        end, was_cut = _end(samples[index], at, gate, at)
        ends[index] = (end, was_cut)
        heapq.heappush(queue, (end, _END, index))
        if gate is not None and not gate.counts_at_end(samples[index].completion_tokens):
            heapq.heappush(queue, (at + gate.window, _WINDOW, index))

    def warm_up(value: float | None) -> None:
        """One warm-up observation; when it completes the warm-up, re-cut the running samples."""
        assert gate is not None
        gate.observe(value)
        if gate.threshold is None:
            return
        for other, (end, _) in list(ends.items()):
            if end > now:
                new_end, was = _end(samples[other], started[other], gate, now)
                if new_end < end:
                    ends[other] = (new_end, was)
                    heapq.heappush(queue, (new_end, _END, other))

    while next_index < min(width, total):
        start(next_index, 0)
        next_index += 1
    while queue:
        now, event, index = heapq.heappop(queue)
        if event == _WINDOW:
            if gate is not None and gate.threshold is None:  # a sample is never cut before this
                warm_up(_first_group(samples[index], gate.window))
            continue
        if ends[index][0] != now:
            continue  # superseded by an earlier cut
        sample = samples[index]
        was_cut = ends[index][1]
        if was_cut and next_index >= total and _last_hope(index, now, ends, arrived):  # as `ProblemGate`
            ends[index] = (started[index] + sample.completion_tokens, False)
            heapq.heappush(queue, (ends[index][0], _END, index))
            continue
        cut += was_cut
        if not was_cut:
            arrived.append(sample)
            if gate is not None and gate.threshold is None and gate.counts_at_end(sample.completion_tokens):
                warm_up(_lowest(sample))
        if next_index < total:
            start(next_index, now)
            next_index += 1
        if queue and rules:
            answers = [s.answer for s in arrived]
            weights = sample_weights(arrived, problem.text, vote)
            if check_stop(rules, answers, total, weights, max_sample_weight(vote)):
                break
    tokens = sum(min(end, now) - started[i] for i, (end, _) in ends.items())
    votes = tally(arrived, problem.text, vote)
    return Replayed(winner(votes, [s.answer for s in arrived]), tokens, len(arrived), cut)


def _end(sample: Sample, start: int, gate: ConfidenceGate | None, known_at: int) -> tuple[int, bool]:
    """When a sample started at `start` ends, and whether the gate cuts it (threshold known at `known_at`)."""
    natural = start + sample.completion_tokens
    series = sample.logprobs
    if gate is None or gate.threshold is None or not series:
        return natural, False
    if gate.warmup_on == "first_window":  # a triage of the first window, once both are known
        first = _first_group(sample, gate.window)
        at = max(gate.window, known_at - start) if is_below(first, gate.threshold) else None
    else:
        at = first_below(series, gate.threshold, gate.window, after=max(0, known_at - start))
    if at is None or start + at >= natural:
        return natural, False
    return start + at, True


def _last_hope(index: int, now: int, ends: dict[int, tuple[int, bool]], arrived: Sequence[Sample]) -> bool:
    """Whether sample `index` is its problem's last running sample and no answer has arrived (the
    caller checks that no more samples are to start)."""
    others_running = any(end > now for other, (end, _) in ends.items() if other != index)
    return not others_running and all(s.answer is None for s in arrived)


def _first_group(sample: Sample, window: int) -> float | None:
    """A recorded sample's group confidence over its first full window (None without logprobs)."""
    meter = ConfidenceMeter(window, 1)
    meter.add((sample.logprobs or [])[:window])
    return meter.group


def _lowest(sample: Sample) -> float | None:
    summary = sample.confidence
    return None if not summary else float(summary["lowest_group"])


def _estimated_tokens(recorded: TraceSample) -> int:
    """Tokens of a recording without a count: its logprob series, else its text (as replay plays it)."""
    series = recorded.meta.get("logprobs")
    if series:
        return len(series)
    return math.ceil(len(recorded.text or "") / CHARS_PER_TOKEN)
