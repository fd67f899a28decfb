"""The doctor's checks, each an async function returning a `Verdict` (exceptions become failures)."""

from __future__ import annotations

import dataclasses

from aimo.bench.engine import level_requests, run_concurrently
from aimo.config import RunConfig
from aimo.doctor.probes import (
    Verdict,
    judge_reasoning,
    judge_rendering,
    judge_reply,
    judge_stop,
    pick_stop_string,
)
from aimo.engines.base import Engine, GenerationRequest, Message, complete
from aimo.engines.config import PROMPT_TOKENS_ALLOWANCE
from aimo.problems import Problem
from aimo.sandbox.config import SandboxConfig
from aimo.solve.config import BudgetConfig, SamplingConfig
from aimo.solve.prompts import PROMPTS
from aimo.solve.run import RunSettings, sandbox_for, solve_problems
from aimo.solve.sample import prompt_opens_thinking

HELLO: list[Message] = [{"role": "user", "content": "Say hello in one short sentence."}]
COUNTING: list[Message] = [
    {"role": "user", "content": "Count from 1 to 40, separated by commas, and nothing else."}
]
STOP_PROBE_TOKENS = 48
TRIVIAL_PROBLEM = Problem(id="doctor-2+3", text="What is 2+3?", answer="5")
ANSWER_SAMPLES = 3
ANSWER_MAX_TOKENS = 512
SPEED_PROBE_TOKENS = 64
REASONING_PROBE_TOKENS = 256


async def check_engine(engine: Engine) -> Verdict:
    """The engine answers a short request with text and a token count."""
    done = await complete(engine, GenerationRequest(messages=HELLO, max_tokens=16, temperature=0.0))
    if not done.text.strip():
        return Verdict(
            "fail",
            f"{engine.name} returned an empty completion (finish_reason {done.finish_reason}, "
            f"{done.completion_tokens} tokens): every answer of a run would be empty",
        )
    if done.completion_tokens <= 0:
        return Verdict("warn", f"{engine.name} answered but reported 0 completion tokens")
    reply = done.text.strip()[:40]
    return Verdict("pass", f"{engine.name} answered {done.completion_tokens} tokens: {reply!r}")


def capacity_verdict(engine: Engine, config: RunConfig) -> Verdict:
    """In-process engines: can the KV cache hold every sample of a problem at the token cap?"""
    n_ctx, slots = getattr(engine, "n_ctx", None), getattr(engine, "max_sequences", None)
    if not isinstance(n_ctx, int) or not isinstance(slots, int):
        return Verdict("skip", f"{engine.name} manages its own KV cache")
    samples, cap = config.strategy.samples, config.sampling.max_tokens
    need = samples * (cap + PROMPT_TOKENS_ALLOWANCE)
    problems = []
    if samples > slots:
        problems.append(f"{samples} samples but {slots} sequence slots: the rest wait their turn")
    if need > n_ctx:
        problems.append(
            f"{samples} samples × {cap} tokens need ≈{need:,} KV cells but the context holds {n_ctx:,}: "
            "long samples fail with a full KV cache (raise [engine] n_ctx)"
        )
    if problems:
        return Verdict("warn", "; ".join(problems))
    return Verdict("pass", f"{samples} samples × {cap} tokens fit ({n_ctx:,} cells, {slots} slots)")


async def check_template(engine: Engine) -> Verdict:
    """llamacpp: the rendered prompt holds the messages and ends with the assistant header; other
    engines: a chat request returns text without raw template tokens."""
    render = getattr(engine, "render_prompt", None)
    if render is not None:
        return judge_rendering(lambda m: render(GenerationRequest(messages=m)), PROMPTS["cot"].system)
    messages = PROMPTS["cot"].messages("What is 2+3?")
    done = await complete(engine, GenerationRequest(messages=messages, max_tokens=32, temperature=0.0))
    return judge_reply(done.text)


async def check_reasoning(engine: Engine) -> Verdict:
    """A short question: is a reasoning model's thinking streamed inside `<think>` … `</think>`?"""
    request = GenerationRequest(
        messages=PROMPTS["cot"].messages("What is 2+3?"), max_tokens=REASONING_PROBE_TOKENS
    )
    done = await complete(engine, dataclasses.replace(request, temperature=0.0))
    return judge_reasoning(done.text, prompt_opens_thinking(engine, request))


async def check_stop(engine: Engine) -> Verdict:
    """A greedy generation, then the same one with a stop string picked from its second half."""
    base = GenerationRequest(messages=COUNTING, max_tokens=STOP_PROBE_TOKENS, temperature=0.0, seed=0)
    free = await complete(engine, base)
    stop = pick_stop_string(free.text)
    if stop is None:
        return Verdict("warn", f"the model wrote too little ({len(free.text)} chars) to test a stop string")
    stopped = await complete(engine, dataclasses.replace(base, stop=(stop,)))
    return judge_stop(free.text, stopped.text, stopped.finish_reason, stop)


async def check_sandbox(config: SandboxConfig, needed: bool) -> Verdict:
    """`print(2+3)` runs in a sandbox session and prints 5."""
    from aimo.sandbox import Sandbox

    async with Sandbox(config) as sandbox:
        session = await sandbox.session()
        try:
            result = await session.run("print(2+3)", timeout=30)
        finally:
            await session.close()
    if result.stdout.strip() == "5":
        return Verdict("pass", "print(2+3) printed 5")
    printed = result.stdout.strip()[:60]
    problem = result.error or ("timed out" if result.timed_out else f"printed {printed!r}")
    if needed:
        return Verdict("fail", f"print(2+3) {problem}")
    return Verdict("warn", f"print(2+3) {problem} (not needed: this strategy runs no code)")


async def check_answer(engine: Engine, config: RunConfig) -> Verdict:
    """The solve path (the chosen strategy) boxes 5 for "What is 2+3?" in at least one of a few samples."""
    strategy = config.strategy.model_copy(update={"samples": ANSWER_SAMPLES, "stop_rules": []})
    sampling = SamplingConfig(
        max_tokens=min(config.sampling.max_tokens, ANSWER_MAX_TOKENS), temperature=0.0, seed=0
    )
    async with sandbox_for(strategy, config.sandbox) as sandbox:
        [result] = await solve_problems(
            engine, [TRIVIAL_PROBLEM], RunSettings(strategy, sampling, BudgetConfig()), sandbox
        )
    answers = [s.answer for s in result.samples]
    right = sum(a == "5" for a in answers)
    shown = ", ".join("none" if a is None else a if len(a) <= 20 else a[:19] + "…" for a in answers)
    if right:
        took = f"{strategy.strategy}, {result.seconds:.1f}s"
        return Verdict("pass", f"{right} of {len(answers)} samples boxed 5 ({took})")
    return Verdict(
        "fail", f"no sample of {TRIVIAL_PROBLEM.text!r} boxed 5 ({strategy.strategy}; answers: {shown})"
    )


async def measure_speed(engine: Engine, config: RunConfig) -> float:
    """Output tok/s with `samples` concurrent streams of a long-output prompt (a short probe)."""
    requests = level_requests(
        config.strategy.samples,
        min(SPEED_PROBE_TOKENS, config.sampling.max_tokens),
        config.sampling.temperature,
        config.sampling.seed or 0,
        "doctor",
    )
    timings, wall = await run_concurrently(engine, requests)
    return sum(t.tokens for t in timings) / wall if wall > 0 else 0.0


def estimate_verdict(tok_s: float, config: RunConfig, typical_tokens: int | None) -> Verdict:
    """Seconds per problem: samples × typical tokens / measured tok/s, against the budget if one is set."""
    samples = config.strategy.samples
    typical = min(typical_tokens or config.sampling.max_tokens, config.sampling.max_tokens)
    if tok_s <= 0:
        return Verdict("fail", f"no tokens came from {samples} concurrent streams")
    per_problem = samples * typical / tok_s
    digits = 0 if per_problem >= 100 else 1
    detail = (
        f"≈{per_problem:,.{digits}f}s per problem ({config.strategy.strategy}: {samples} samples × "
        f"{typical} tokens at {tok_s:,.1f} tok/s measured with {samples} streams)"
    )
    budget = config.budget
    if budget.total_s is not None:
        fits = budget.total_s / per_problem
        detail += f"; the {budget.total_s:,.0f}s budget covers ≈{fits:,.1f} problems at that length"
        if fits < budget.assumed_problems:
            return Verdict("warn", detail + f" (fewer than {budget.assumed_problems} assumed)")
    return Verdict("pass", detail)
