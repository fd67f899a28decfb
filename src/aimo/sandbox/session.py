"""`Session`: one stateful Python namespace for one sample, restarted cleanly when its process dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aimo.sandbox.capture import Output
from aimo.sandbox.config import SandboxConfig
from aimo.sandbox.errors import SandboxError
from aimo.sandbox.pool import Worker, WorkerPool
from aimo.sandbox.protocol import ProtocolError
from aimo.sandbox.result import ExecResult
from aimo.sandbox.template import describe_exit


class Session:
    """Variables survive between `run` calls, like notebook cells; calls on one session run in turn.

    A call that runs out of wall-clock time, or whose process dies (segfault, `os._exit`), gets a result
    saying so with `state_lost=True`; the next call runs in a fresh process.
    """

    def __init__(
        self, pool: WorkerPool, config: SandboxConfig, worker: Worker, on_close: Callable[[Session], None]
    ) -> None:
        self._pool = pool
        self._config = config
        self._worker: Worker | None = worker
        self._on_close = on_close
        self._lock = asyncio.Lock()
        self._closed = False
        self._lost_state = False  # the process went away outside a call; the next call says so

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def uid(self) -> int | None:
        """The uid the session's processes run as (None: the harness's own), for diagnostics."""
        return self._worker.uid if self._worker is not None else None

    @property
    def workdir(self) -> str | None:
        """The session's working directory as its code sees it."""
        return self._worker.workdir if self._worker is not None else None

    async def run(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run `code` in the session's namespace; never raises for anything the code does."""
        async with self._lock:
            if self._closed:
                raise SandboxError("the session is closed")
            timeout = self._config.timeout_s if timeout is None else timeout
            worker = self._worker
            if worker is not None and not worker.alive:
                # Died between calls (e.g. a thread of the last cell called os._exit).
                self._lost_state = True
                self._pool.discard(worker)
                worker = None
            if worker is None:
                worker = self._worker = await self._pool.acquire()
            state_lost, self._lost_state = self._lost_state, False
            started = time.perf_counter()
            try:
                reply = await worker.run(code, self._config.call_cpu_s(timeout), timeout)
            except TimeoutError:
                output = worker.take_output()
                await self._lose(worker)
                error = f"TimeoutError: the code ran longer than {timeout:g} s and was stopped"
                return _result({"error": error}, output, started, True, timed_out=True, killed=True)
            except ProtocolError:
                output = worker.take_output()
                exit_info = await self._lose(worker)
                what = describe_exit(exit_info)
                if worker.forged:
                    what = "the code sent the sandbox a message it did not ask for, and was stopped"
                elif self._closed:
                    what = "the session was closed while the code ran"
                return _result({"error": f"SystemError: {what}"}, output, started, True, killed=True)
            except BaseException:
                # Cancelled mid-call: the cell's state is unknown, so the process goes.
                if self._worker is worker:
                    self._worker = None
                    self._lost_state = True
                self._pool.discard(worker)
                raise
            return _result(reply, worker.take_output(), started, state_lost)

    async def _lose(self, worker: Worker) -> dict[str, Any]:
        if self._worker is worker:
            self._worker = None
        return await self._pool.release(worker)

    async def close(self) -> None:
        """Kill the session's processes (a call in flight returns as killed) and free its slot."""
        if self._closed:
            return
        self._closed = True
        worker, self._worker = self._worker, None
        try:
            if worker is not None:
                await self._pool.release(worker)
        finally:
            self._on_close(self)

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _result(
    reply: dict[str, Any],
    output: Output,
    started: float,
    state_lost: bool,
    timed_out: bool = False,
    killed: bool = False,
) -> ExecResult:
    """An ExecResult from a session's checked answer and the output the harness read."""
    return ExecResult(
        stdout=output.stdout,
        stderr=output.stderr,
        error=reply.get("error"),
        timed_out=timed_out or reply.get("cpu_exceeded") is True,
        memory_exceeded=reply.get("memory_exceeded") is True,
        killed=killed,
        duration_s=time.perf_counter() - started,
        truncated=output.truncated,
        state_lost=state_lost,
    )
