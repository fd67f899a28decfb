"""Turning a stream of token bytes into text deltas that honour stop strings.

Used by in-process engines, which see tokens rather than text: bytes are decoded incrementally (a
multi-byte character may span tokens), and the tail that could be the start of a stop string is
held back until it is known not to be one. The stop string itself is never emitted.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class StopTextStream:
    """Feed token bytes in; get safe-to-emit text out, and whether a stop string was hit."""

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._stop = [s for s in stop if s]
        self._hold = max((len(s) for s in self._stop), default=1) - 1
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # decoded text not yet emitted (a possible stop-string prefix)
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add bytes; return the text that can be emitted now ("" when held back or after a stop)."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(data)
        return self._release(final=False)

    def flush(self) -> str:
        """At the end of generation: everything still held back (unless a stop string was hit)."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(b"", final=True)
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        # Only the pending text can contain a new stop string: everything emitted earlier was checked.
        cut = min((i for i in (self._pending.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            out, self._pending = self._pending[:cut], ""
            return out
        split = len(self._pending) if final else max(0, len(self._pending) - self._hold)
        out, self._pending = self._pending[:split], self._pending[split:]
        return out
