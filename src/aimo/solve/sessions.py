"""Sandbox sessions taken on demand: a tool-integrated sample holds one only once it writes code.

A sample that never runs code then never waits for a session, and samples beyond the sandbox's
`max_sessions` generate their reasoning while others hold the sessions; the session still lives
from the sample's first code block to its end, so variables persist across its blocks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol


class CodeResult(Protocol):
    """What the sample loop reads from one code run (`aimo.sandbox.ExecResult` is one)."""

    @property
    def stdout(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def timed_out(self) -> bool: ...
    def to_model_text(self, max_chars: int = ...) -> str: ...


class CodeSession(Protocol):
    """A stateful code session: variables persist from one `run` to the next."""

    async def run(self, code: str, timeout: float | None = None) -> CodeResult: ...
    async def close(self) -> None: ...


class SessionSource(Protocol):
    """What solve needs from a sandbox: a fresh session on request (`aimo.sandbox.Sandbox` is one)."""

    def session(self) -> Awaitable[CodeSession]: ...


SessionFactory = Callable[[], Awaitable[CodeSession]]


class OnDemandSession:
    """Opens a session from `open_session` at the first `run`; `close` gives it back (if it was opened)."""

    def __init__(self, open_session: SessionFactory) -> None:
        self._open_session = open_session
        self._session: CodeSession | None = None
        self._opening = asyncio.Lock()

    @property
    def opened(self) -> bool:
        return self._session is not None

    async def run(self, code: str, timeout: float | None = None) -> CodeResult:
        async with self._opening:
            if self._session is None:
                self._session = await self._open_session()
            session = self._session
        return await session.run(code, timeout=timeout)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
