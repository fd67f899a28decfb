"""The replay engine: plays recorded samples back as if a model generated them.

Strategies (voting, stopping rules, budgets) can then be tuned and the harness tested without a
model. Which recording a request gets:

1. the problem: `request.meta["problem_id"]`; without it, the recorded problem whose text appears in
   the request's messages or prompt (whitespace-insensitive; the longest such text wins);
2. the sample: `request.meta["sample_index"]` (sample i gets the i-th recorded sample, so samples
   come in the recorded sampling order); without it, the next unused sample of that problem.

A request with an `assistant_prefix` continues its sample: from the end of the prefix when the
recording starts with it, otherwise from where the sample's previous stream stopped (after its stop
string). Answer-only recordings play a short synthetic text ending in `\\boxed{answer}`, reported
with the recorded number of completion tokens.

Tokens are not stored, so the text of a recording is spread evenly over its recorded completion
tokens (or `len(text) / 4` of them when not recorded). That mapping decides where `max_tokens`
truncates (finish reason "length") and how fast text comes: `tokens_per_s` per stream (None or 0:
as fast as possible), or a `throughput` curve (total tok/s by the number of streams playing, e.g. an
`aimo bench engine` result), which plays a batching engine: each stream gets total(c) / c tok/s while
c streams play, so a planner can be exercised at GPU-like speeds on recorded samples.
Stop strings end a stream at their first occurrence, the stop string itself left out of the text,
finish reason "stop". Closing the stream (or cancelling its task) stops it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from aimo.engines.base import Chunk, EngineError, FinishReason, GenerationRequest
from aimo.engines.config import EngineConfig
from aimo.engines.throughput import ThroughputCurve
from aimo.engines.traces import TraceProblem, load_traces

CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class _Playback:
    """What one stream emits: text[start:end] of a recording, and its token accounting."""

    text: str
    start: int
    end: int
    start_token: int
    end_token: int
    total_tokens: int
    finish_reason: FinishReason
    resume_at: int  # where a continuation of this sample starts

    def char_at(self, token: int) -> int:
        return char_at(token, len(self.text), self.total_tokens)


def char_at(token: int, length: int, total_tokens: int) -> int:
    """The character offset where the first `token` tokens of a recording end."""
    if total_tokens <= 0:
        return length
    # Rounded down: the last character only comes with the last token, so a consumer that stops
    # as soon as it sees the final answer still counts all the tokens of an answer-only sample.
    return min(length, token * length // total_tokens)


def tokens_at(char: int, length: int, total_tokens: int) -> int:
    """How many tokens of a recording of `length` chars and `total_tokens` tokens cover `char` chars."""
    if length <= 0:
        return total_tokens
    return min(total_tokens, math.ceil(char * total_tokens / length))


def synthetic_text(answer: str | None, completion_tokens: int) -> str:
    """The text played for an answer-only recording."""
    head = f"[replayed answer-only sample, {completion_tokens} tokens]\n\n"
    if answer is None:
        return head + "No final answer was given."
    return head + f"The final answer is \\boxed{{{answer}}}"


def plan_playback(
    text: str, total_tokens: int, start: int, max_tokens: int, stop: Sequence[str]
) -> _Playback:
    """Where a stream over `text[start:]` ends under `max_tokens` and `stop`, like a real engine would."""
    length = len(text)
    start = min(start, length)
    start_token = tokens_at(start, length, total_tokens)
    limit = start_token + max_tokens
    hits = [(found, len(s)) for s in stop if s and (found := text.find(s, start)) >= 0]
    stop_at, stop_len = min(hits) if hits else (-1, 0)

    if stop_at >= 0 and tokens_at(stop_at + stop_len, length, total_tokens) <= limit:
        end_token = tokens_at(stop_at + stop_len, length, total_tokens)
        return _Playback(
            text, start, stop_at, start_token, end_token, total_tokens, "stop", stop_at + stop_len
        )
    if total_tokens > limit:
        end = max(start, char_at(limit, length, total_tokens))
        if stop_at >= 0:
            end = min(end, stop_at)  # never emit part of a stop string
        return _Playback(text, start, end, start_token, limit, total_tokens, "length", end)
    return _Playback(text, start, length, start_token, total_tokens, total_tokens, "stop", length)


class ReplayEngine:
    """An `Engine` that plays back recorded samples (see the module doc)."""

    name = "replay"

    def __init__(
        self,
        problems: Sequence[TraceProblem],
        *,
        tokens_per_s: float | None = None,
        chunk_tokens: int = 16,
        wrap: bool = False,
        throughput: ThroughputCurve | None = None,
    ) -> None:
        """`wrap`: a sample index past the recorded ones reuses them cyclically instead of failing;
        `throughput`: play at total(c) / c tok/s per stream while c streams play (not `tokens_per_s`)."""
        if chunk_tokens < 1:
            raise ValueError("chunk_tokens must be at least 1")
        if tokens_per_s is not None and tokens_per_s < 0:
            raise ValueError("tokens_per_s must be positive, or 0/None for unlimited")
        self.tokens_per_s = tokens_per_s or None
        self.throughput = throughput
        self.chunk_tokens = chunk_tokens
        self.wrap = wrap
        self.problems = {p.problem_id: p for p in problems}
        if len(self.problems) != len(problems):
            raise EngineError("replay: problem ids in the traces are not unique")
        # Longest texts first so that a problem quoted inside another's text does not shadow it.
        self._texts = sorted(
            ((_squash(p.text), p) for p in problems if p.text.strip()), key=lambda item: -len(item[0])
        )
        self._next_index: dict[str, int] = {}
        self._last_index: dict[str, int] = {}
        self._resume: dict[tuple[str, int], int] = {}
        self.active_streams = 0
        self._closed = False

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        run: str | None = None,
        tokens_per_s: float | None = None,
        chunk_tokens: int = 16,
        wrap: bool = False,
        throughput: ThroughputCurve | None = None,
    ) -> ReplayEngine:
        """An engine over a trace file (any format `load_traces` reads)."""
        return cls(
            load_traces(path, run),
            tokens_per_s=tokens_per_s,
            chunk_tokens=chunk_tokens,
            wrap=wrap,
            throughput=throughput,
        )

    @classmethod
    def from_config(cls, config: EngineConfig) -> ReplayEngine:
        """An engine from `--engine replay --traces FILE` (and `replay_tokens_per_s`)."""
        if not config.traces:
            raise EngineError("replay: no trace file given (--traces FILE)")
        curve = ThroughputCurve.from_bench(config.replay_throughput) if config.replay_throughput else None
        return cls.from_file(config.traces, tokens_per_s=config.replay_tokens_per_s, throughput=curve)

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        """Play the selected recording back as text deltas; the last chunk has the finish reason."""
        if self._closed:
            raise EngineError("replay: engine is closed")
        problem, index = self._select(request)
        sample = problem.samples[index]
        text = (
            sample.text
            if sample.text is not None
            else synthetic_text(sample.answer, sample.completion_tokens or 0)
        )
        series = sample.meta.get("logprobs") or []
        total_tokens = (
            sample.completion_tokens or len(series) or max(1, math.ceil(len(text) / CHARS_PER_TOKEN))
        )
        key = (problem.problem_id, index)
        prefix = request.assistant_prefix
        if not prefix:
            start = 0
        elif text.startswith(prefix):
            start = len(prefix)
        else:
            start = self._resume.get(key, 0)
        playback = plan_playback(text, total_tokens, start, request.max_tokens, request.stop)
        self._resume[key] = playback.resume_at
        prompt_tokens = sample.prompt_tokens or _estimate_prompt_tokens(request)

        self.active_streams += 1
        try:
            played = series if request.logprobs else ()
            async with aclosing(self._play(playback, prompt_tokens, played)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            self.active_streams -= 1

    async def aclose(self) -> None:
        self._closed = True

    async def _play(
        self, playback: _Playback, prompt_tokens: int, series: Sequence[list[float]] = ()
    ) -> AsyncGenerator[Chunk, None]:
        """Emit the playback in chunks; `series` (recorded per-token logprobs) goes with its tokens
        when the request asked for logprobs."""
        started = time.monotonic()
        await asyncio.sleep(0)  # every stream yields to the loop at least once, so it can be cancelled
        emitted, reported = playback.start, playback.start_token
        token = playback.start_token + self.chunk_tokens
        while token < playback.end_token:
            await self._pace(started, token - playback.start_token, self.chunk_tokens)
            upto = min(playback.char_at(token), playback.end)
            if upto > emitted:  # tokens of a chunk with no text go with the next one
                yield Chunk(
                    text=playback.text[emitted:upto],
                    tokens=token - reported,
                    logprobs=list(series[reported:token]),
                )
                emitted, reported = upto, token
            token += self.chunk_tokens
        last = playback.end_token - playback.start_token
        await self._pace(started, last, last - (token - self.chunk_tokens - playback.start_token))
        yield Chunk(
            text=playback.text[emitted : playback.end],
            tokens=playback.end_token - reported,
            finish_reason=playback.finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=playback.end_token - playback.start_token,
            logprobs=list(series[reported : playback.end_token]),
        )

    async def _pace(self, started: float, tokens: int, step: int) -> None:
        """Wait until `tokens` tokens of a stream are due (`step`: how many the last wait covered)."""
        if self.throughput is not None:
            await asyncio.sleep(step / self.throughput.per_stream(self.active_streams))
            return
        if self.tokens_per_s is None:
            # Unlimited speed still takes turns with other streams, so that concurrent samples finish
            # in order of length and the harness sees each answer before the next one comes in.
            await asyncio.sleep(0)
            return
        delay = started + tokens / self.tokens_per_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def _select(self, request: GenerationRequest) -> tuple[TraceProblem, int]:
        problem_id = request.meta.get("problem_id")
        if problem_id is not None:
            problem = self.problems.get(str(problem_id))
            if problem is None:
                raise EngineError(f"replay: no recorded problem with id {problem_id!r}")
        else:
            problem = self._match_text(request)
        if not problem.samples:
            raise EngineError(f"replay: problem {problem.problem_id!r} has no recorded samples")
        index = request.meta.get("sample_index")
        if index is None:
            index = self._guess_index(problem, request.assistant_prefix)
        index = int(index)
        count = len(problem.samples)
        if index < 0 or (index >= count and not self.wrap):
            raise EngineError(
                f"replay: problem {problem.problem_id!r} has {count} recorded samples, "
                f"sample {index} was asked for"
            )
        self._last_index[problem.problem_id] = index
        return problem, index % count

    def _guess_index(self, problem: TraceProblem, prefix: str) -> int:
        pid = problem.problem_id
        if prefix:
            for index, sample in enumerate(problem.samples):
                if sample.text is not None and sample.text.startswith(prefix):
                    return index
            if pid in self._last_index:
                return self._last_index[pid]
        index = self._next_index.get(pid, 0)
        self._next_index[pid] = index + 1
        return index

    def _match_text(self, request: GenerationRequest) -> TraceProblem:
        if request.prompt is not None:
            content = request.prompt
        else:
            content = "\n".join(m.get("content", "") for m in request.messages or ())
        squashed = _squash(content)
        for text, problem in self._texts:
            if text in squashed:
                return problem
        raise EngineError("replay: no meta['problem_id'] and no recorded problem text found in the request")


def _squash(text: str) -> str:
    return " ".join(text.split())


def _estimate_prompt_tokens(request: GenerationRequest) -> int:
    if request.prompt is not None:
        chars = len(request.prompt)
    else:
        chars = sum(len(m.get("content", "")) for m in request.messages or ())
    return math.ceil((chars + len(request.assistant_prefix)) / CHARS_PER_TOKEN)
