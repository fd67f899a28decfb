"""Helpers for the sandbox tests: real processes throughout, no mocks.

The `sandbox` fixture (conftest.py) is one SharedSandbox for the tests that need no special
configuration: `sandbox(body)` runs `await body(Sandbox)` on its event loop. Tests that need their
own configuration use `run_with(config, body)`, which is a plain `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aimo.sandbox import ExecResult, Sandbox, SandboxConfig, Session

# Generous: the machine is shared and slow calls must not fail by accident. Tests that want a
# timeout pass a small one to `run` explicitly.
SHARED_CONFIG = SandboxConfig(timeout_s=60, memory_mb=512, max_processes=32, disk_mb=64, max_file_mb=8)
# A template without numpy/sympy starts in a fraction of the time.
LIGHT = {"preload": ["math"], "timeout_s": 60, "warm_sessions": 1}

Body = Callable[[Sandbox], Awaitable[Any]]


class SharedSandbox:
    """A started Sandbox on an event loop running in a background thread."""

    def __init__(self, config: SandboxConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.sandbox = Sandbox(config)
        self._call(self.sandbox.start())

    def _call(self, coro: Awaitable[Any], timeout: float = 300) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def __call__(self, body: Body) -> Any:
        return self._call(body(self.sandbox))

    def close(self) -> None:
        self._call(self.sandbox.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def run_with(config: SandboxConfig, body: Body) -> Any:
    """Run `await body(sandbox)` with a sandbox of its own, closed afterwards."""

    async def main() -> Any:
        async with Sandbox(config) as sandbox:
            return await body(sandbox)

    return asyncio.run(main())


def unavailable(feature: str) -> str:
    """Why a test of `feature` skips (with how to get it, where a package gives it)."""
    if feature == "seccomp":
        return "no seccomp filter here: pip install pyseccomp (needs libseccomp.so.2)"
    return f"{feature} is not available on this machine"


def run_cells_with(config: SandboxConfig, *cells: str, needs: str) -> list[ExecResult]:
    """Run cells in one session of a sandbox of their own; skip the test where the OS refuses the
    isolation feature `needs`."""

    async def body(sb: Sandbox) -> list[ExecResult]:
        if not sb.isolation[needs]:
            pytest.skip(unavailable(needs))
        return await run_cells(sb, *cells)

    result: list[ExecResult] = run_with(config, body)
    return result


async def run_cells(sandbox: Sandbox, *cells: str, timeout: float | None = None) -> list[ExecResult]:
    """Run cells one after another in one new session, which is then closed."""
    async with await sandbox.session() as session:
        return [await session.run(cell, timeout) for cell in cells]


async def until_served(session: Session, code: str) -> list[ExecResult]:
    """Run `code` until a live process answers it (for after a kill the kernel carries out when it
    gets to it): every earlier result must say the state was lost."""
    results = [await session.run(code)]
    while results[-1].state_lost and len(results) < 5:
        results.append(await session.run(code))
    return results


def processes_of(uid: int) -> list[int]:
    """Pids of live processes (zombies excluded) whose real uid is `uid`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(status["Uid"].split()[0]) == uid and not status["State"].strip().startswith("Z"):
            found.append(int(name))
    return found


def template_pids() -> list[int]:
    """Template processes started by this test process."""
    pids = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                parent = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent == os.getpid() and b"aimo.sandbox.zygote" in cmdline:
            pids.append(int(name))
    return pids
