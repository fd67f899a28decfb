"""Incremental detection, in streamed text, of closed code blocks, finished boxed answers and `</think>`.

Each delta is scanned once, together with the few characters before it that a marker could straddle:
the scanner never re-reads or re-joins the whole text per delta, so a sample costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aimo.engines.base import THINK_END

CODE_OPEN = ("```python\n", "```py\n")
CODE_CLOSE = "\n```"
BOX_MARKERS = ("\\boxed", "\\fbox")
_LOOKBACK = max(len(m) for m in (*CODE_OPEN, CODE_CLOSE, *BOX_MARKERS, THINK_END)) - 1
_BARE_END = frozenset(" \t\n$.,")  # ends a `\boxed 5` answer written without braces
_PLACEHOLDER = re.compile(r"\\(?:h?phantom\{[^{}]*\}|[,;:! ]|quad|qquad)")


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
        self._box_open: int | None = None  # offset of the box's opening brace
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
        search_from = 0
        while self.boxed_end is None:
            if self._box_next is None:
                hits = [i + len(m) for m in BOX_MARKERS if (i := window.find(m, search_from)) >= 0]
                if not hits:
                    return
                self._box_next = base + min(hits)
            end = self._read_box(window, base)
            if end is None:
                return
            opened = self._box_open
            if opened is not None and _is_placeholder(self.text[opened + 1 : end - 1]):
                # `\boxed{}` or `\boxed{\phantom{2}}` is a template, not an answer: look for the next box.
                self._box_next, self._box_open, self._box_depth = None, None, 0
                search_from = end - base
                continue
            self.boxed_end = end

    def _read_box(self, window: str, base: int) -> int | None:
        """Advance through the current box; the offset right after it once it is complete."""
        for pos in range(self._box_next or 0, self._length):
            ch = window[pos - base]
            if self._box_bare:
                if ch in _BARE_END:
                    return pos
            elif ch == "{":
                if self._box_depth == 0:
                    self._box_open = pos
                self._box_depth += 1
            elif ch == "}":
                self._box_depth -= 1
                if self._box_depth == 0:
                    return pos + 1
            elif self._box_depth == 0 and not ch.isspace():
                self._box_bare = True
        self._box_next = self._length
        return None


def _is_placeholder(content: str) -> bool:
    """An empty box, or one holding only `\\phantom{...}` and spacing commands."""
    return not _PLACEHOLDER.sub("", content).strip()
