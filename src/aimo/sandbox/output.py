"""Bounded output: keep the head and the tail of what a program printed, and mark the cut."""

from __future__ import annotations


def omission_marker(omitted: int, unit: str) -> str:
    """The line that stands where the middle of an output was cut."""
    return f"\n... [{omitted} {unit} omitted] ...\n"


def trim_middle(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its head and tail around an omission marker."""
    if len(text) <= limit:
        return text
    marker_room = len(omission_marker(len(text), "characters"))
    keep = max(limit - marker_room, 0)
    head = keep // 2
    tail = keep - head
    omitted = len(text) - head - tail
    return text[:head] + omission_marker(omitted, "characters") + (text[-tail:] if tail else "")


class HeadTail:
    """A byte sink that keeps the first and last `limit // 2` bytes and counts the rest."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        """Add bytes written by the program."""
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            # Trim in batches so a stream of small writes costs amortized O(1) each.
            if len(self._tail) > 2 * self._tail_limit:
                del self._tail[: -self._tail_limit]

    def take(self) -> tuple[str, bool]:
        """The kept text (cut marked) and whether anything was cut; then start empty again."""
        tail = bytes(self._tail[-self._tail_limit :]) if self._tail_limit else b""
        omitted = self.total - len(self._head) - len(tail)
        text = self._head.decode("utf-8", "replace")
        if omitted:
            text += omission_marker(omitted, "bytes")
        text += tail.decode("utf-8", "replace")
        self._head, self._tail, self.total = bytearray(), bytearray(), 0
        return text, omitted > 0
