"""`aimo doctor`: check before a long run that the engine, template, stop strings, answer extraction
and sandbox work, and estimate the time per problem.

A run whose engine returns empty answers (one AIMO-3 team's speculative-decoding setting did) scores
nothing, and nothing in the run itself says why; the doctor fails on it in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aimo.config import RunConfig
from aimo.doctor import checks
from aimo.doctor.probes import Status, Verdict
from aimo.engines.base import Engine
from aimo.engines.factory import open_engine
from aimo.models import Progress

__all__ = ["CheckResult", "run_doctor"]


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist."""

    name: str
    status: Status
    detail: str
    seconds: float


async def _timed(name: str, action: Callable[[], Awaitable[Verdict]], timeout_s: float) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            verdict = await action()
    except TimeoutError:
        verdict = Verdict("fail", f"no result within {timeout_s:g}s")
    except Exception as exc:  # a check that raises has failed; the reason is the error
        verdict = Verdict("fail", f"{type(exc).__name__}: {exc}")
    return CheckResult(name, verdict.status, verdict.detail, time.perf_counter() - started)


async def run_doctor(
    config: RunConfig,
    on_check: Callable[[CheckResult], None] | None = None,
    timeout_s: float = 300.0,
    typical_tokens: int | None = None,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """Run every check in order; engine checks are skipped once the engine itself has failed.

    The engine is opened exactly as a run with `config` would open it, so that its limits show."""
    results: list[CheckResult] = []

    def report(result: CheckResult) -> None:
        results.append(result)
        if on_check:
            on_check(result)

    needs_code = config.strategy.strategy != "cot" and config.strategy.code_rounds > 0
    async with contextlib.AsyncExitStack() as stack:
        try:
            engine = await stack.enter_async_context(open_engine(config.engine_for_run(), progress))
        except Exception as exc:  # a model that cannot be found or loaded, a bad engine name
            report(CheckResult("engine", "fail", f"could not start the engine: {exc}", 0.0))
            report(await _timed("sandbox", lambda: _sandbox(config, needs_code), timeout_s))
            return results
        await _engine_checks(engine, config, report, timeout_s, typical_tokens, needs_code)
    return results


async def _engine_checks(
    engine: Engine,
    config: RunConfig,
    report: Callable[[CheckResult], None],
    timeout_s: float,
    typical_tokens: int | None,
    needs_code: bool,
) -> None:
    steps: list[tuple[str, Callable[[], Awaitable[Verdict]], bool]] = [
        ("engine", lambda: checks.check_engine(engine), True),
        ("capacity", lambda: _capacity(engine, config), True),
        ("chat template", lambda: checks.check_template(engine), True),
        ("reasoning", lambda: checks.check_reasoning(engine), True),
        ("stop strings", lambda: checks.check_stop(engine), True),
        ("sandbox", lambda: _sandbox(config, needs_code), False),
        ("answer", lambda: checks.check_answer(engine, config), True),
        ("speed", lambda: _speed(engine, config, typical_tokens), True),
    ]
    skip = "the replay engine plays recordings: nothing to check" if engine.name == "replay" else None
    for name, action, needs_engine in steps:
        if needs_engine and skip:
            report(CheckResult(name, "skip", skip, 0.0))
            continue
        result = await _timed(name, action, timeout_s)
        report(result)
        if name == "engine" and result.status == "fail":
            skip = "skipped: the engine check failed"


async def _speed(engine: Engine, config: RunConfig, typical_tokens: int | None) -> Verdict:
    tok_s = await checks.measure_speed(engine, config)
    return checks.estimate_verdict(tok_s, config, typical_tokens)


async def _capacity(engine: Engine, config: RunConfig) -> Verdict:
    return checks.capacity_verdict(engine, config)


def _sandbox(config: RunConfig, needed: bool) -> Awaitable[Verdict]:
    return checks.check_sandbox(config.sandbox, needed)
