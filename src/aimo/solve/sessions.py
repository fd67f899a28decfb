"""Sandbox sessions taken on demand: a tool-integrated sample holds one only once it writes code.

A sample that never runs code then never waits for a session, and samples beyond the sandbox's
`max_sessions` generate their reasoning while others hold the sessions; the session still lives
from the sample's first code block to its end, so variables persist across its blocks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

SessionFactory = Callable[[], Awaitable[Any]]


class OnDemandSession:
    """Opens a session from `open_session` at the first `run`; `close` gives it back (if it was opened)."""

    def __init__(self, open_session: SessionFactory) -> None:
        self._open_session = open_session
        self._session: Any = None
        self._opening = asyncio.Lock()

    @property
    def opened(self) -> bool:
        return self._session is not None

    async def run(self, code: str, timeout: float | None = None) -> Any:
        async with self._opening:
            if self._session is None:
                self._session = await self._open_session()
        return await self._session.run(code, timeout=timeout)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
