"""One sample: the chain-of-thought or tool-integrated (SC-TIR) loop around an engine stream.

A tool-integrated sample generates until a ```python block closes, runs it in its own sandbox
session, appends the result in an ```output block and continues, for at most `code_rounds` rounds.
Sample-level stops (first boxed answer, first code answer, `</think>`, the token cap, the deadline)
are detected on each delta as it arrives. When the token cap or the deadline cuts a sample short,
answer forcing closes the thinking and asks for the answer in a few tokens, so the sample still votes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from aimo.answers import (
    TEXT_TARGETS,
    ExtractionConfig,
    Mode,
    OutputConfig,
    extract_answer,
    extract_from_output,
    is_answer,
)
from aimo.engines.base import (
    THINK_END,
    THINK_START,
    Engine,
    EngineError,
    FinishReason,
    GenerationRequest,
    Message,
    ToolCall,
    ends_inside_thinking,
)
from aimo.problems import Problem
from aimo.solve.confidence import ConfidenceMeter, ProblemGate, record_confidence
from aimo.solve.config import SamplingConfig, StrategyConfig
from aimo.solve.prompts import PROMPTS
from aimo.solve.scan import StreamScanner
from aimo.solve.sessions import CodeSession, OnDemandSession, SessionFactory
from aimo.solve.types import CodeRun, EarlyStop, Sample

FORCE_CUE = "\n\nI am out of time, so I commit to my best answer now.\n\nFinal answer: \\boxed{"
FORCE_MAX_TOKENS = 16
OUTPUT_STOP = "```output"
PYTHON_TOOL = {
    "type": "function",
    "function": {
        "name": "python",
        "description": "Run Python code in a stateful sandbox (a notebook cell); returns what it printed.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}  # a model that writes its own output block has closed its code: stop there


@dataclass
class _Round:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    stop: EarlyStop | None  # why this round ended before its stream did
    code: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class _Chat:
    """What a sample's rounds share: the chat so far, its code session, how code is handed over
    (```python blocks in the text, or tool calls) and how many code rounds are left."""

    messages: list[Message]
    session: CodeSession | None
    use_tools: bool
    rounds_left: int


class SampleRunner:
    """Runs samples of problems on one engine; a sandbox factory gives each code sample a session."""

    def __init__(
        self,
        engine: Engine,
        strategy: StrategyConfig,
        sampling: SamplingConfig,
        open_session: SessionFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.strategy = strategy
        self.sampling = sampling
        self.open_session = open_session
        self.clock = clock
        # "auto" extracts like integer mode: a box always counts, phrases only when they are numbers.
        mode: Mode = "math" if strategy.answer_mode == "math" else "integer"
        # A program's output is the answer only with `answer_from_code`, never by default.
        self._extraction = ExtractionConfig(mode=mode, targets=TEXT_TARGETS)
        self._output_extraction = OutputConfig(mode=mode)

    def temperature(self, sample: Sample) -> float:
        """Sample 0 decodes greedily when the strategy says so (`greedy_first`); the others sample."""
        return 0.0 if self.strategy.greedy_first and sample.index == 0 else self.sampling.temperature

    async def fill(
        self,
        problem: Problem,
        sample: Sample,
        deadline: float | None = None,
        max_tokens: int | None = None,
        gate: ProblemGate | None = None,
    ) -> None:
        """Generate `sample` of `problem` in place (a cancelled sample keeps what it had so far).

        `max_tokens` caps this sample below the sampling config's cap (the planner's budget for it);
        `gate` stops it when its confidence falls below the problem's threshold (DeepConf online)."""
        kind = sample.prompt_kind
        sample.started = time.time()
        session = None
        confidence = ConfidenceMeter(
            self.strategy.confidence_window,
            self.strategy.confidence_tail,
            keep_series=self.strategy.record_logprobs,
            gate=gate,
        )
        cap = min(self.sampling.max_tokens, max_tokens or self.sampling.max_tokens)
        try:
            if kind == "tir" and self.open_session is not None and self.strategy.code_rounds > 0:
                session = OnDemandSession(self.open_session)  # taken at the first code block
            await self._loop(problem, sample, kind, session, deadline, confidence, cap)
        finally:
            if session is not None:
                await asyncio.shield(session.close())
            sample.ended = time.time()
            record_confidence(sample, confidence)
        if sample.finish_reason == "low_confidence":
            return  # DeepConf online: a trace stopped for low confidence does not vote
        sample.answer = extract_answer(sample.text, self._extraction)
        if sample.answer is None and (
            self.strategy.answer_from_code or sample.finish_reason == "code_answer"
        ):
            sample.answer = next((r.answer for r in reversed(sample.code_runs) if r.answer), None)

    async def _loop(
        self,
        problem: Problem,
        sample: Sample,
        kind: str,
        session: CodeSession | None,
        deadline: float | None,
        confidence: ConfidenceMeter,
        cap: int,
    ) -> None:
        """Generate rounds until one ends without code (or code rounds, tokens or time run out), then
        force an answer when the sample was cut short without one."""
        use_tools = session is not None and self.strategy.code_via == "tools"
        chat = _Chat(
            PROMPTS["tir_tools" if use_tools else kind].messages(problem.text),
            session,
            use_tools,
            self.strategy.code_rounds if session is not None else 0,
        )
        while True:
            request = self._request(problem, sample, chat, cap)
            round_ = await self._generate(
                request, chat.rounds_left > 0 and not use_tools, deadline, sample, confidence
            )
            sample.text += round_.text
            sample.prompt_tokens += round_.prompt_tokens  # every round re-reads (prefills) its prompt
            sample.finish_reason = round_.stop or round_.finish_reason
            if chat.session is None or (round_.code is None and not round_.tool_calls):
                break
            runs = await self._code_round(chat, chat.session, round_, sample, deadline)
            if any(r.answer is not None for r in runs) and self.strategy.stop_on_code_answer:
                sample.finish_reason = "code_answer"
                return
            if sample.completion_tokens >= cap:
                sample.finish_reason = "length"
                break
            if self._past(deadline):
                sample.finish_reason = "deadline"
                break
        if sample.finish_reason == "low_confidence":
            return
        if (
            self.strategy.force_answer
            and sample.finish_reason in ("length", "deadline", "think")
            and extract_answer(sample.text, self._extraction) is None
        ):
            prefix = "" if use_tools else sample.text
            await self._force_answer(chat.messages, prefix, sample, self.sampling.seed_of(sample.index))

    def _request(self, problem: Problem, sample: Sample, chat: _Chat, cap: int) -> GenerationRequest:
        """The next round's request: in text mode it continues the assistant turn so far and stops where
        the model would write a code block's output itself; in tool mode it offers the python tool."""
        return GenerationRequest.sampled(
            self.sampling,
            sample.index,
            messages=list(chat.messages),
            assistant_prefix="" if chat.use_tools else sample.text,
            max_tokens=max(1, cap - sample.completion_tokens),
            temperature=self.temperature(sample),
            stop=(OUTPUT_STOP,) if chat.session is not None and not chat.use_tools else (),
            logprobs=self.strategy.wants_logprobs,
            tools=(PYTHON_TOOL,) if chat.use_tools and chat.rounds_left > 0 else (),
            meta={"problem_id": problem.id, "sample_index": sample.index, "round": len(sample.code_runs)},
        )

    async def _code_round(
        self, chat: _Chat, session: CodeSession, round_: _Round, sample: Sample, deadline: float | None
    ) -> list[CodeRun]:
        """Run a round's code (its closed block, or each tool call) and append each output to the
        sample's text (tool calls shown like text-mode blocks) and, in tool mode, to the chat."""
        chat.rounds_left -= 1
        if chat.use_tools:
            calls = [_tool_call_message(c) for c in round_.tool_calls]
            chat.messages.append({"role": "assistant", "content": round_.text, "tool_calls": calls})
        codes: list[tuple[str, ToolCall | None]] = (
            [(round_.code, None)]
            if round_.code is not None
            else [(_tool_code(call), call) for call in round_.tool_calls]
        )
        runs = []
        for code, call in codes:
            run = await self._run_code(session, code, deadline)
            runs.append(run)
            sample.code_runs.append(run)
            if call is not None:
                sample.text += f"\n```python\n{code.rstrip()}\n```\n"
                chat.messages.append({"role": "tool", "tool_call_id": call.id, "content": run.output})
            sample.text += f"```output\n{run.output}\n```\n"
        return runs

    async def _generate(
        self,
        request: GenerationRequest,
        watch_code: bool,
        deadline: float | None,
        sample: Sample,
        confidence: ConfidenceMeter,
    ) -> _Round:
        """Stream one round, stopping at the first event that ends it.

        Tokens are added to the sample as they arrive, so a sample cancelled mid-round (a stop rule
        fired) still accounts for the work it cost; its partial text is kept too."""
        scanner = StreamScanner()
        counted, prompt_tokens = 0, 0
        finish: FinishReason = "stop"
        stop: EarlyStop | None = None
        ended = False
        tool_calls: list[ToolCall] = []
        timeout = None if deadline is None else max(0.0, deadline - self.clock())
        try:
            async with asyncio.timeout(timeout), aclosing(self.engine.stream(request)) as stream:
                async for chunk in stream:
                    scanner.feed(chunk.text)
                    counted += chunk.tokens
                    sample.completion_tokens += chunk.tokens
                    confidence.add(chunk.logprobs)
                    if confidence.below_gate():
                        stop = "low_confidence"
                        break
                    if chunk.finish_reason is not None:
                        ended, finish = True, chunk.finish_reason
                        prompt_tokens = chunk.prompt_tokens or 0
                        tool_calls = chunk.tool_calls
                        if chunk.completion_tokens is not None:  # the engine's own count is the truth
                            sample.completion_tokens += chunk.completion_tokens - counted
                    stop = self._early_stop(scanner, watch_code)
                    if stop or chunk.finish_reason is not None:
                        break
        except TimeoutError:
            stop = "deadline"
        except asyncio.CancelledError:
            sample.text += scanner.text
            raise
        if not ended and stop is None:
            # A stream that just stops is a failure (a server that dropped it), never a normal end.
            sample.text += scanner.text
            raise EngineError(f"{self.engine.name}: the stream ended without a finish reason")
        text, code = scanner.text, None
        if stop == "code" and scanner.code_block is not None:
            code = scanner.code_block.code
            text = text[: scanner.code_block.end] + "\n"
        elif stop == "boxed" and scanner.boxed_end is not None:
            text = text[: scanner.boxed_end]
        elif stop == "think" and scanner.think_end is not None:
            text = text[: scanner.think_end]
        elif finish == "stop" and watch_code and scanner.code_block is not None:
            # The engine stopped on "```output" right after a closed block: run that block.
            stop, code = "code", scanner.code_block.code
        return _Round(text, finish, prompt_tokens, stop, code, tool_calls)

    def _early_stop(self, scanner: StreamScanner, watch_code: bool) -> EarlyStop | None:
        if watch_code and scanner.code_block is not None:
            return "code"
        if self.strategy.stop_on_boxed and scanner.boxed_end is not None:
            return "boxed"
        if self.strategy.stop_at_think_end and scanner.think_end is not None:
            return "think"
        return None

    async def _run_code(self, session: CodeSession, code: str, deadline: float | None) -> CodeRun:
        timeout = self.strategy.code_timeout_s
        if deadline is not None:
            timeout = max(0.1, min(timeout, deadline - self.clock()))
        started = self.clock()
        result = await session.run(code, timeout=timeout)
        output = result.to_model_text(self.strategy.max_output_chars)
        return CodeRun(
            code=code,
            output=output,
            error=result.error is not None or result.timed_out,
            timed_out=result.timed_out,
            answer=extract_from_output(result.stdout, self._output_extraction)
            if result.error is None
            else None,
            seconds=self.clock() - started,
        )

    async def _force_answer(
        self, messages: list[Message], prefix: str, sample: Sample, seed: int | None
    ) -> None:
        """Close the thinking and ask for the answer in a few tokens (bounded in time too).

        `prefix` is the assistant's unfinished turn that the cue continues."""
        cue = (THINK_END if self._thinking_open(messages, sample.text) else "") + FORCE_CUE
        request = GenerationRequest(
            messages=messages,
            assistant_prefix=prefix + cue,
            max_tokens=FORCE_MAX_TOKENS,
            temperature=0.0,
            seed=seed,
            stop=("}",),
            meta={"problem_id": sample.problem_id, "sample_index": sample.index, "forced": True},
        )
        parts: list[str] = []
        finish = None
        try:
            async with (
                asyncio.timeout(self.strategy.force_answer_timeout_s),
                aclosing(self.engine.stream(request)) as stream,
            ):
                async for chunk in stream:
                    parts.append(chunk.text)
                    sample.completion_tokens += chunk.tokens
                    finish = chunk.finish_reason or finish
        except Exception:  # forcing is best effort (timeout, engine error): the sample stays unanswered
            return
        forced = "".join(parts)
        # Prose (`The value of f(-2)+...`) or a box cut by the token cap is no answer: the box stays open.
        closed = finish != "length" and is_answer(forced, self._extraction.mode)
        sample.text += cue + forced + ("}" if closed else "")
        sample.forced = True

    def _thinking_open(self, messages: list[Message], text: str) -> bool:
        """Whether the sample is inside an unclosed `<think>`: opened in its own text, or by the chat
        template at the start of the assistant turn (DeepSeek-R1 distills, QwQ)."""
        if THINK_END in text:
            return False
        if THINK_START in text:
            return True
        return bool(prompt_opens_thinking(self.engine, GenerationRequest(messages=messages)))

    def _past(self, deadline: float | None) -> bool:
        return deadline is not None and self.clock() >= deadline


def prompt_opens_thinking(engine: Engine, request: GenerationRequest) -> bool | None:
    """Whether the engine's rendered prompt for `request` ends inside a `<think>` its template opened;
    None when the engine cannot render prompts (a chat API without a chat template)."""
    render = getattr(engine, "render_prompt", None)
    if render is None:
        return None
    try:
        return ends_inside_thinking(render(request))
    except Exception:  # an engine that cannot render says nothing about thinking
        return None


def _tool_code(call: ToolCall) -> str:
    """The code of a `python` tool call: `{"code": ...}`, or the raw arguments when they are not JSON."""
    try:
        arguments = json.loads(call.arguments)
    except ValueError:
        return call.arguments
    return str(arguments.get("code", "")) if isinstance(arguments, dict) else str(arguments)


def _tool_call_message(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
