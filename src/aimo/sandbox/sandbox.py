"""`Sandbox`: the owner of the template process, the warm pool and every session."""

from __future__ import annotations

import asyncio
from types import TracebackType

from aimo.sandbox.config import SandboxConfig
from aimo.sandbox.errors import SandboxError
from aimo.sandbox.pool import WorkerPool
from aimo.sandbox.session import Session


class Sandbox:
    """Runs model-written Python in isolated, stateful sessions forked from a warm template.

    Use as `async with Sandbox(config) as sandbox: session = await sandbox.session()`. Leaving the
    block closes every session still open and kills every process the sandbox started.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._pool: WorkerPool | None = None
        self._sessions: set[Session] = set()

    @property
    def isolation(self) -> dict[str, bool]:
        """Which isolation features the OS allowed (user/PID/mount/network namespaces, minimal root,
        per-session uid, seccomp...); each one the config asked for but the OS refused was logged."""
        return self._require_pool().isolation

    @property
    def visible_paths(self) -> tuple[str, ...]:
        """Host paths a session sees (read-only) besides its own /tmp, /proc and a few devices;
        empty where there is no minimal root and sessions see the whole host file system."""
        return self._require_pool().visible_paths

    async def start(self) -> Sandbox:
        """Start the template process and begin filling the warm pool (done by `async with`)."""
        if self._pool is None:
            pool = WorkerPool(self.config)
            await pool.start()
            self._pool = pool
        return self

    async def session(self) -> Session:
        """A new session with a fresh namespace (from the warm pool when one is ready)."""
        pool = self._require_pool()
        session = Session(pool, self.config, await pool.acquire(), self._sessions.discard)
        self._sessions.add(session)
        return session

    async def warm(self) -> None:
        """Wait until `warm_sessions` idle sessions are ready (e.g. before timing anything)."""
        await self._require_pool().wait_warm()

    async def close(self) -> None:
        """Close every session and stop the template; all processes of all sessions are gone after."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.gather(*(session.close() for session in list(self._sessions)))
        finally:
            await pool.close()

    def _require_pool(self) -> WorkerPool:
        if self._pool is None:
            raise SandboxError("the sandbox is not started: use `async with Sandbox(...)`")
        return self._pool

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
