"""A scripted engine for testing the sample loop's logic: each request of a sample gets its next
scripted text, streamed a few characters at a time (a test double for pure logic, per DESIGN.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from aimo.engines.base import Chunk, GenerationRequest


class ScriptedEngine:
    name = "scripted"

    def __init__(
        self, script: Callable[[int, int, GenerationRequest], str], delay: float = 0.0, chunk_chars: int = 3
    ) -> None:
        """`script(sample_index, call_number, request)` gives the text the call generates."""
        self.script = script
        self.delay = delay
        self.chunk_chars = chunk_chars
        self.calls: list[GenerationRequest] = []
        self.closed_early = 0
        self._counts: dict[int, int] = {}

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        self.calls.append(request)
        index = int(request.meta.get("sample_index", 0))
        call = self._counts.get(index, 0)
        self._counts[index] = call + 1
        text = self.script(index, call, request)
        for stop in request.stop:
            if stop in text:
                text = text[: text.index(stop)]
        pieces = [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        pieces = pieces[: request.max_tokens]
        finished = False
        try:
            for piece in pieces:
                if self.delay:
                    await asyncio.sleep(self.delay)
                yield Chunk(text=piece, tokens=1)
            finished = True
            reason = "length" if len(pieces) == request.max_tokens and "".join(pieces) != text else "stop"
            yield Chunk(finish_reason=reason, prompt_tokens=10, completion_tokens=len(pieces))
        finally:
            if not finished:
                self.closed_early += 1

    async def aclose(self) -> None:
        pass
