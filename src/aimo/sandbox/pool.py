"""Live session processes as the harness sees them, and the warm pool that keeps some ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from aimo.sandbox.config import SandboxConfig
from aimo.sandbox.errors import SandboxError
from aimo.sandbox.protocol import ProtocolError, encode, read_frame
from aimo.sandbox.template import UNKNOWN_EXIT, Template

logger = logging.getLogger("aimo.sandbox")
# How long closing a session of a dead template waits for its supervisor to have killed it.
ORPHAN_EXIT_TIMEOUT_S = 10.0


class Worker:
    """One live session process: send it cells, read what it sends back, kill it (once)."""

    def __init__(
        self,
        template: Template,
        spawned: dict[str, Any],
        sock: socket.socket,
        max_frame: int,
        on_gone: Callable[[], None],
    ) -> None:
        self.slot = int(spawned["slot"])
        self.uid: int | None = spawned.get("uid")
        self.workdir = str(spawned.get("workdir") or "")
        self._template = template
        self._sock = sock
        self._max_frame = max_frame
        self._on_gone = on_gone
        self._seq = 0
        self._running_seq = 0
        # Bounded, so a session flooding us with frames blocks itself instead of filling our memory.
        self._frames: asyncio.Queue[dict[str, Any] | ProtocolError] = asyncio.Queue(maxsize=8)
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

    async def connect(self, timeout: float) -> None:
        """Wait for the session process to report that it is set up."""
        self._reader, self._writer = await asyncio.open_unix_connection(sock=self._sock)
        self._reader_task = asyncio.create_task(self._read_frames(self._reader))
        try:
            ready = await asyncio.wait_for(self._next_frame(), timeout)
        except (TimeoutError, ProtocolError) as exc:
            raise SandboxError(f"a sandbox session did not start: {exc!r}") from None
        if ready.get("op") != "ready":
            raise SandboxError(f"a sandbox session failed to start: {ready.get('error', ready)}")
        self.workdir = str(ready.get("workdir") or self.workdir)

    async def _read_frames(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                await self._frames.put(await read_frame(reader, self._max_frame))
        except ProtocolError as exc:
            await self._frames.put(exc)

    async def _next_frame(self) -> dict[str, Any]:
        frame = await self._frames.get()
        if isinstance(frame, ProtocolError):
            self._frames.put_nowait(frame)  # every later read fails the same way
            raise frame
        return frame

    async def _send(self, message: dict[str, Any]) -> int:
        if self._writer is None:
            raise ProtocolError("not connected")
        self._seq += 1
        try:
            self._writer.write(encode({**message, "seq": self._seq}))
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise ProtocolError(f"cannot send: {exc!r}") from None
        return self._seq

    async def _reply(self, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            frame = await self._next_frame()
            if accept(frame):
                return frame  # anything else is a stale answer to an earlier request

    async def run(self, code: str, cpu_s: float, timeout: float) -> dict[str, Any]:
        """Run a cell; raises TimeoutError past `timeout`, ProtocolError if the process died."""

        async def call() -> dict[str, Any]:
            self._running_seq = await self._send({"op": "run", "code": code, "cpu_s": cpu_s})
            return await self._reply(lambda f: f.get("op") == "result" and f.get("seq") == self._running_seq)

        return await asyncio.wait_for(call(), timeout)

    async def flush(self, grace: float) -> dict[str, Any] | None:
        """What the running cell printed so far, or its result if it just finished; None if stuck."""

        async def call() -> dict[str, Any]:
            seq = await self._send({"op": "flush"})
            return await self._reply(
                lambda f: (f.get("op"), f.get("seq")) in (("partial", seq), ("result", self._running_seq))
            )

        try:
            return await asyncio.wait_for(call(), grace)
        except (TimeoutError, ProtocolError):
            return None

    async def kill(self) -> dict[str, Any]:
        """Kill the process and all it started; how it ended ({"code", "signal"}). Idempotent."""
        if self._kill_task is None:
            self._kill_task = asyncio.ensure_future(self._kill())
        return await asyncio.shield(self._kill_task)

    async def _kill(self) -> dict[str, Any]:
        # Its socket closed already: it is probably exiting on its own, and can say how.
        grace = self._reader_task is not None and self._reader_task.done()
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
        # A session's answer holds two streams and a traceback, each bounded; JSON may escape 6:1.
        self._max_frame = 24 * config.output_limit_bytes + (1 << 16)

    @property
    def isolation(self) -> dict[str, bool]:
        """Which isolation features the OS allowed (see `limits.Isolation`)."""
        return dict(self._template.isolation)

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
        try:
            template, spawned = await self._spawn_through_template(worker_end)
            worker = Worker(template, spawned, session_end, self._max_frame, gone)
        except BaseException:
            session_end.close()
            gone()
            raise
        finally:
            worker_end.close()
        try:
            await worker.connect(self._config.start_timeout_s)
        except BaseException:
            self.discard(worker)
            raise
        return worker

    async def _spawn_through_template(self, worker_end: socket.socket) -> tuple[Template, dict[str, Any]]:
        """Ask the template for a session, starting a new template once if this one died."""
        for attempt in range(2):
            if not self._template.alive:
                await self._restart_template()
            template = self._template
            try:
                return template, await template.spawn(worker_end)
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
