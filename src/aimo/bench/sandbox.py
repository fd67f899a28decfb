"""`aimo bench sandbox`: latency of sandbox calls and session starts, against the usual alternatives.

Each operation is timed three ways in the same run: in an `aimo.sandbox` session, in a fresh
`python3` subprocess per call (what many Kaggle notebooks do), and in a Jupyter kernel (jupyter_client
+ ipykernel; skipped with a note when they are not installed). Ratios are the alternative's p50 over
aimo's, so 10 means aimo is ten times faster.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

from aimo.bench.result import BenchResult, percentile
from aimo.sandbox import Sandbox, SandboxConfig

TRIVIAL = "x = 1 + 1"
SYMPY = "import sympy\nsympy.factorint(2**64 + 1)"
# (row name, code); the last starts a session (an interpreter, a kernel) for each sample.
OPERATIONS = [("trivial call", TRIVIAL), ("sympy call", SYMPY), ("session start", "pass")]
COLD_START = "cold session start"
SYSTEMS = ("aimo", "subprocess", "jupyter")


def run_bench(n: int = 20, jupyter: bool = True, config: SandboxConfig | None = None) -> BenchResult:
    """Time every operation `n` times (`slow_n` = max(3, n // 4) times where each sample starts an
    interpreter or a kernel) and return p50/p95 in milliseconds and the speed-up ratios."""
    slow_n = max(3, n // 4)
    config = config or SandboxConfig()
    notes: list[str] = []
    samples: dict[tuple[str, str], list[float]] = {}
    samples.update(asyncio.run(_time_aimo(config, n)))
    samples.update(_time_subprocess(n, slow_n))
    if jupyter:
        try:
            samples.update(_time_jupyter(n, slow_n))
        except ImportError as exc:
            notes.append(f"jupyter column skipped: {exc} (install the `jupyter` or `dev` extra)")
        except Exception as exc:  # a kernel that will not start must not lose the other columns
            notes.append(f"jupyter column skipped: the kernel failed: {exc!r}")
    else:
        notes.append("jupyter column skipped (--no-jupyter)")
    notes.append(
        "Times in ms. 'session start' is a new session's first call ('pass'): aimo takes an idle "
        "session from its warm pool, 'cold session start' forks one on demand; subprocess starts "
        "`python -c`, and imports again on every call; jupyter starts a kernel."
    )
    rows = []
    for operation in [name for name, _ in OPERATIONS] + [COLD_START]:
        row: dict[str, Any] = {"operation": operation}
        for system in SYSTEMS:
            times = samples.get((operation, system), [])
            row[f"{system} p50"] = percentile(times, 50) if times else None
            row[f"{system} p95"] = percentile(times, 95) if times else None
        rows.append(row)
    ratios = {
        f"{row['operation']}: {system}/aimo p50": row[f"{system} p50"] / row["aimo p50"]
        for row in rows
        for system in SYSTEMS[1:]
        if row[f"{system} p50"] is not None and row["aimo p50"]
    }
    return BenchResult(
        name="sandbox",
        settings={"n": n, "slow_n": slow_n, "python": sys.executable, "preload": config.preload},
        rows=rows,
        ratios=ratios,
        notes=notes,
    )


async def _timed(action: Callable[[str], Awaitable[Any]], code: str) -> float:
    started = time.perf_counter()
    await action(code)
    return (time.perf_counter() - started) * 1000


async def _time_aimo(config: SandboxConfig, n: int) -> dict[tuple[str, str], list[float]]:
    samples: dict[tuple[str, str], list[float]] = {}
    async with Sandbox(config) as sandbox:
        await sandbox.warm()
        async with await sandbox.session() as session:
            for operation, code in OPERATIONS[:2]:
                await session.run(code)  # warm-up, like the other systems get
                samples[operation, "aimo"] = [await _timed(session.run, code) for _ in range(n)]
        samples["session start", "aimo"] = await _time_starts(sandbox, n, warm=True)
    cold = config.model_copy(update={"warm_sessions": 0})
    async with Sandbox(cold) as sandbox:
        samples[COLD_START, "aimo"] = await _time_starts(sandbox, n, warm=False)
    return samples


async def _time_starts(sandbox: Sandbox, n: int, warm: bool) -> list[float]:
    times = []
    for _ in range(n):
        if warm:
            await sandbox.warm()  # untimed: the pool refills between a harness's session starts
        started = time.perf_counter()
        session = await sandbox.session()
        await session.run("pass")
        times.append((time.perf_counter() - started) * 1000)
        await session.close()
    return times


def _time_subprocess(n: int, slow_n: int) -> dict[tuple[str, str], list[float]]:
    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return (time.perf_counter() - started) * 1000

    return {
        ("trivial call", "subprocess"): [once(TRIVIAL) for _ in range(n)],
        ("sympy call", "subprocess"): [once(SYMPY) for _ in range(slow_n)],
        ("session start", "subprocess"): [once("pass") for _ in range(n)],
    }


def _time_jupyter(n: int, slow_n: int) -> dict[tuple[str, str], list[float]]:
    from jupyter_client.manager import start_new_kernel  # optional dependency

    def execute(client: Any, code: str) -> float:
        started = time.perf_counter()
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"jupyter kernel failed on {code!r}: {reply['content']}")
        return (time.perf_counter() - started) * 1000

    samples: dict[tuple[str, str], list[float]] = {}
    with _Kernel(start_new_kernel) as client:
        for operation, code in OPERATIONS[:2]:
            execute(client, code)  # warm-up: imports once, like the sandbox's preload
            samples[operation, "jupyter"] = [execute(client, code) for _ in range(n)]
    starts = []
    for _ in range(slow_n):
        started = time.perf_counter()
        with _Kernel(start_new_kernel) as client:
            execute(client, "pass")
            starts.append((time.perf_counter() - started) * 1000)
    samples["session start", "jupyter"] = starts
    return samples


class _Kernel(AbstractContextManager[Any]):
    """A started Jupyter kernel and its blocking client, shut down on exit."""

    def __init__(self, start: Callable[..., tuple[Any, Any]]) -> None:
        self._manager, self._client = start(
            kernel_name="python3",
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
        )

    def __enter__(self) -> Any:
        return self._client

    def __exit__(self, *exc: object) -> None:
        self._client.stop_channels()
        self._manager.shutdown_kernel(now=True)
