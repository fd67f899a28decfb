"""Live session processes as the harness sees them, and the warm pool that keeps some ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from aimo.sandbox.capture import Output, OutputCapture
from aimo.sandbox.config import SandboxConfig
from aimo.sandbox.errors import SandboxError
from aimo.sandbox.output import trim_middle
from aimo.sandbox.protocol import ProtocolError, clean_text, encode, read_frame
from aimo.sandbox.template import UNKNOWN_EXIT, Template

logger = logging.getLogger("aimo.sandbox")
# How long closing a session of a dead template waits for its supervisor to have killed it.
ORPHAN_EXIT_TIMEOUT_S = 10.0


class ForgedFrame(ProtocolError):
    """The session sent a message the harness did not ask for (only code in a cell would)."""


class Worker:
    """One live session process: send it cells, read its answers and output, kill it (once).

    The process runs hostile code, so the harness takes exactly one answer per request, carrying the
    request's random nonce; anything else ends the session (`ForgedFrame`). Output is read from pipes
    only the harness holds, and cut to the limit here.
    """

    def __init__(
        self,
        template: Template,
        spawned: dict[str, Any],
        sock: socket.socket,
        output: OutputCapture,
        config: SandboxConfig,
        on_gone: Callable[[], None],
    ) -> None:
        self.slot = int(spawned["slot"])
        self.uid: int | None = spawned.get("uid")
        self.workdir = str(spawned.get("workdir") or "")
        self._template = template
        self._sock = sock
        self._output = output
        self._output_limit = config.output_limit_bytes
        # An answer holds a traceback (cut to the output limit); JSON may escape 6:1.
        self._max_frame = 6 * config.output_limit_bytes + (1 << 16)
        self._on_gone = on_gone
        self._expected: tuple[str, str | None] | None = None
        self._answer: asyncio.Future[dict[str, Any]] | None = None
        self._broken: ProtocolError | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._kill_task: asyncio.Future[dict[str, Any]] | None = None

    @property
    def alive(self) -> bool:
        """False once the process is known to be gone, being killed, or orphaned by its template."""
        return (
            self._kill_task is None
            and self._template.alive
            and self._reader_task is not None
            and not self._reader_task.done()
        )

    @property
    def forged(self) -> bool:
        """Whether the session was ended for sending a message nobody asked for."""
        return isinstance(self._broken, ForgedFrame)

    async def connect(self, timeout: float) -> None:
        """Wait for the session process to report that it is set up."""
        self._reader, self._writer = await asyncio.open_unix_connection(sock=self._sock)
        answer = self._expect("ready", None)
        self._reader_task = asyncio.create_task(self._read_frames(self._reader))
        try:
            ready = await asyncio.wait_for(answer, timeout)
        except (TimeoutError, ProtocolError) as exc:
            raise SandboxError(f"a sandbox session did not start: {exc!r}") from None
        if ready.get("op") != "ready":
            raise SandboxError(f"a sandbox session failed to start: {ready.get('error', ready)}")
        self.workdir = str(ready.get("workdir") or self.workdir)

    def _expect(self, op: str, nonce: str | None) -> asyncio.Future[dict[str, Any]]:
        if self._broken is not None:
            raise self._broken
        self._expected = (op, nonce)
        self._answer = asyncio.get_running_loop().create_future()
        return self._answer

    def _accepts(self, frame: dict[str, Any]) -> bool:
        if self._expected is None or self._answer is None or self._answer.done():
            return False
        op, nonce = self._expected
        if op == "ready":
            return frame.get("op") in ("ready", "fatal")
        return frame.get("op") == op and frame.get("nonce") == nonce

    async def _read_frames(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                frame = await read_frame(reader, self._max_frame)
                if not self._accepts(frame):
                    raise ForgedFrame("the session sent a message the sandbox did not ask for")
                assert self._answer is not None
                self._answer.set_result(frame)
                self._expected = None
        except ProtocolError as exc:
            if not reader.at_eof() and not isinstance(exc, ForgedFrame):
                exc = ForgedFrame(f"the session sent a malformed message: {exc}")
            self._broken = exc
            if self._answer is not None and not self._answer.done():
                self._answer.set_exception(exc)

    async def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None:
            raise ProtocolError("not connected")
        try:
            self._writer.write(encode(message))
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise ProtocolError(f"cannot send: {exc!r}") from None

    async def run(self, code: str, cpu_s: float, timeout: float) -> dict[str, Any]:
        """Run a cell; its answer ({"error", "memory_exceeded", "cpu_exceeded"}, checked, error cut to
        the output limit). Raises TimeoutError past `timeout`, ProtocolError if the process died or
        forged a message; `take_output` has what the cell printed either way."""
        nonce = secrets.token_hex(16)
        answer = self._expect("result", nonce)
        self._output.start()
        try:
            await self._send({"op": "run", "nonce": nonce, "code": code, "cpu_s": cpu_s})
            frame = await asyncio.wait_for(answer, timeout)
        finally:
            self._output.stop()
        error = frame.get("error")
        return {
            "error": trim_middle(clean_text(error), self._output_limit) if isinstance(error, str) else None,
            "memory_exceeded": frame.get("memory_exceeded") is True,
            "cpu_exceeded": frame.get("cpu_exceeded") is True,
        }

    def take_output(self) -> Output:
        """What the last call printed (and whatever was left in the pipes before it)."""
        return self._output.take()

    async def kill(self) -> dict[str, Any]:
        """Kill the process and all it started; how it ended ({"code", "signal", ...}). Idempotent."""
        if self._kill_task is None:
            self._kill_task = asyncio.ensure_future(self._kill())
        return await asyncio.shield(self._kill_task)

    async def _kill(self) -> dict[str, Any]:
        # Its socket closed already: it is probably exiting on its own, and can say how.
        grace = self._reader_task is not None and self._reader_task.done() and not self.forged
        try:
            if self._template.alive:
                return await self._template.kill(self.slot, grace)
            # The template died: the supervisor is killing the session on its own. Its processes
            # are gone when every copy of its socket is closed.
            if self._reader_task is not None:
                self._reader_task.cancel()
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                await asyncio.wait_for(self._read_to_eof(), ORPHAN_EXIT_TIMEOUT_S)
            return dict(UNKNOWN_EXIT)
        finally:
            if self._writer is not None:
                self._writer.close()
            else:
                self._sock.close()
            if self._reader_task is not None:
                self._reader_task.cancel()
            self._output.close()
            self._on_gone()

    async def _read_to_eof(self) -> None:
        while self._reader is not None and await self._reader.read(1 << 16):
            pass


class WorkerPool:
    """Spawns session processes through the template and keeps `warm_sessions` idle ones ready."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._template = Template(config)
        self._restart_lock = asyncio.Lock()
        self._idle: deque[Worker] = deque()
        self._slots = asyncio.Semaphore(config.max_sessions)
        self._spawning = 0
        self._refill_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._filled = asyncio.Event()
        self._closed = False

    @property
    def isolation(self) -> dict[str, bool]:
        """Which isolation features the OS allowed (see `limits.Isolation`)."""
        return dict(self._template.isolation)

    @property
    def visible_paths(self) -> tuple[str, ...]:
        """Host paths a session sees, read-only, in its minimal root (empty: it sees the host's)."""
        return self._template.visible_paths

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def start(self) -> None:
        """Start the template (logging what isolation the OS refused) and begin warming up."""
        await self._template.start()
        for warning in self._template.warnings:
            logger.warning(warning)
        self._kick_refill()

    async def acquire(self) -> Worker:
        """A ready session process: an idle one if any, else a fresh one."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        while self._idle:
            worker = self._idle.popleft()
            if worker.alive:
                self._kick_refill()
                return worker
            self.discard(worker)
        worker = await self._spawn()
        self._kick_refill()
        return worker

    async def release(self, worker: Worker) -> dict[str, Any]:
        """Kill a worker now and wait until all its processes are gone; how it ended."""
        return await worker.kill()

    def discard(self, worker: Worker) -> None:
        """Kill a worker in the background (from places that cannot wait, like cancellation)."""
        task = asyncio.ensure_future(worker.kill())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_warm(self) -> None:
        """Wait until the warm pool is full (or cannot grow: no free slot)."""
        while len(self._idle) < self._config.warm_sessions and not self._closed:
            self._kick_refill()
            if self._refill_task is None or self._refill_task.done():
                return
            self._filled.clear()
            await self._filled.wait()

    async def _spawn(self) -> Worker:
        await self._slots.acquire()
        gone = _Once(self._slots.release)
        session_end, worker_end = socket.socketpair()
        (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
        output = OutputCapture(out_r, err_r, self._config.output_limit_bytes)
        try:
            template, spawned = await self._spawn_through_template(worker_end, out_w, err_w)
            worker = Worker(template, spawned, session_end, output, self._config, gone)
        except BaseException:
            session_end.close()
            output.close()
            gone()
            raise
        finally:
            worker_end.close()
            os.close(out_w)
            os.close(err_w)
        try:
            await worker.connect(self._config.start_timeout_s)
        except BaseException:
            self.discard(worker)
            raise
        return worker

    async def _spawn_through_template(
        self, worker_end: socket.socket, out_w: int, err_w: int
    ) -> tuple[Template, dict[str, Any]]:
        """Ask the template for a session, starting a new template once if this one died."""
        for attempt in range(2):
            if not self._template.alive:
                await self._restart_template()
            template = self._template
            try:
                return template, await template.spawn(worker_end, out_w, err_w)
            except SandboxError:
                if template.alive or attempt:
                    raise
        raise AssertionError("unreachable")

    async def _restart_template(self) -> None:
        async with self._restart_lock:
            if self._template.alive or self._closed:
                return
            logger.warning("sandbox: the template process died; starting a new one")
            await self._template.close()
            self._template = Template(self._config)
            await self._template.start()

    def _kick_refill(self) -> None:
        if self._closed or (self._refill_task is not None and not self._refill_task.done()):
            return
        self._refill_task = asyncio.ensure_future(self._refill())

    async def _refill(self) -> None:
        try:
            while (
                len(self._idle) < self._config.warm_sessions and not self._slots.locked() and not self._closed
            ):
                try:
                    worker = await self._spawn()
                except SandboxError as exc:
                    logger.warning("sandbox: cannot warm a session: %s", exc)
                    return
                if self._closed:
                    await worker.kill()
                    return
                self._idle.append(worker)
        finally:
            self._filled.set()

    async def close(self) -> None:
        """Kill every worker (idle or not), then the template."""
        self._closed = True
        if self._refill_task is not None:
            self._refill_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, SandboxError):
                await self._refill_task
        while self._idle:
            self.discard(self._idle.popleft())
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._template.close()
        self._filled.set()


class _Once:
    """Calls a function the first time it is called, and never again."""

    def __init__(self, func: Callable[[], None]) -> None:
        self._func: Callable[[], None] | None = func

    def __call__(self) -> None:
        func, self._func = self._func, None
        if func is not None:
            func()
