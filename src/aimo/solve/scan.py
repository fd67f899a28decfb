"""Incremental detection, in streamed text, of closed code blocks, finished boxed answers and `</think>`.

Each delta is scanned once, together with the few characters before it that a marker could straddle:
the scanner never re-reads or re-joins the whole text per delta, so a sample costs linear time.
"""

from __future__ import annotations

from dataclasses import dataclass

CODE_OPEN = ("```python\n", "```py\n")
CODE_CLOSE = "\n```"
BOX_MARKERS = ("\\boxed", "\\fbox")
THINK_END = "</think>"
_LOOKBACK = max(len(m) for m in (*CODE_OPEN, CODE_CLOSE, *BOX_MARKERS, THINK_END)) - 1
_BARE_END = frozenset(" \t\n$.,")  # ends a `\boxed 5` answer written without braces


@dataclass(frozen=True)
class CodeBlock:
    """A ```python block that just closed; `end` is the offset right after its closing fence."""

    code: str
    end: int


class StreamScanner:
    """Feed text deltas; read `code_block`, `boxed_end` and `think_end` as they become known.

    Offsets are into the whole text fed so far (`text`); only the first event of each kind is kept."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._joined = ""
        self._tail = ""  # the last _LOOKBACK characters, where a marker may have begun
        self._code_start: int | None = None  # offset of an open code block's first line
        self._box_next: int | None = None  # scanning a \boxed answer: next offset to read
        self._box_depth = 0
        self._box_bare = False  # reading a `\boxed 5` answer (no braces)
        self.code_block: CodeBlock | None = None
        self.boxed_end: int | None = None
        self.think_end: int | None = None

    @property
    def text(self) -> str:
        """Everything fed so far (joined on demand, not per delta)."""
        if len(self._joined) != self._length:
            self._joined = "".join(self._parts)
            self._parts = [self._joined]
        return self._joined

    def feed(self, delta: str) -> None:
        """Add a delta and update what has been detected."""
        if not delta:
            return
        window = self._tail + delta
        base = self._length - len(self._tail)  # offset of window[0]
        self._parts.append(delta)
        self._length += len(delta)
        if self.code_block is None:
            self._scan_code(window, base)
        if self.boxed_end is None:
            self._scan_box(window, base)
        if self.think_end is None and (i := window.find(THINK_END)) >= 0:
            self.think_end = base + i + len(THINK_END)
        self._tail = window[-_LOOKBACK:]

    def _scan_code(self, window: str, base: int) -> None:
        search_from = 0
        if self._code_start is None:
            hits = [(i, m) for m in CODE_OPEN if (i := window.find(m)) >= 0]
            if not hits:
                return
            i, marker = min(hits)
            self._code_start = base + i + len(marker)
            search_from = i + len(marker) - 1  # the close may reuse the open marker's newline
        else:
            search_from = max(0, self._code_start - 1 - base)
        close = window.find(CODE_CLOSE, search_from)
        if close >= 0:
            close += base
            self.code_block = CodeBlock(self.text[self._code_start : close + 1], close + len(CODE_CLOSE))

    def _scan_box(self, window: str, base: int) -> None:
        if self._box_next is None:
            hits = [i + len(m) for m in BOX_MARKERS if (i := window.find(m)) >= 0]
            if not hits:
                return
            self._box_next = base + min(hits)
        for pos in range(self._box_next, self._length):
            ch = window[pos - base]
            if self._box_bare:
                if ch in _BARE_END:
                    self.boxed_end = pos
                    return
            elif ch == "{":
                self._box_depth += 1
            elif ch == "}":
                self._box_depth -= 1
                if self._box_depth == 0:
                    self.boxed_end = pos + 1
                    return
            elif self._box_depth == 0 and not ch.isspace():
                self._box_bare = True
        self._box_next = self._length
