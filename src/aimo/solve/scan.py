"""Incremental detection, in streamed text, of closed code blocks, finished boxed answers and `</think>`.

Each delta is scanned once: the scanner keeps its position and only looks back as far as a marker
could straddle two deltas, so scanning a whole sample costs time linear in its length.
"""

from __future__ import annotations

from dataclasses import dataclass

CODE_OPEN = ("```python\n", "```py\n")
CODE_CLOSE = "\n```"
BOX_MARKERS = ("\\boxed", "\\fbox")
THINK_END = "</think>"
_LOOKBACK = max(len(m) for m in (*CODE_OPEN, CODE_CLOSE, *BOX_MARKERS, THINK_END))


@dataclass(frozen=True)
class CodeBlock:
    """A ```python block that just closed; `end` is the offset right after its closing fence."""

    code: str
    end: int


class StreamScanner:
    """Feed text deltas; read `code_block`, `boxed_end` and `think_end` as they become known."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._text_cache = ""
        self._scan_from = 0
        self._code_start: int | None = None  # inside an open code block: offset of its first line
        self._box_depth = 0
        self._box_pos: int | None = None  # scanning a \boxed{...}: next offset to look at
        self.code_block: CodeBlock | None = None
        self.boxed_end: int | None = None  # offset right after the first complete \boxed{...}
        self.think_end: int | None = None

    @property
    def text(self) -> str:
        if len(self._text_cache) != self._length:
            self._text_cache = "".join(self._parts)
            self._parts = [self._text_cache]
        return self._text_cache

    def feed(self, delta: str) -> None:
        """Add a delta and update what has been detected (only the first code block is reported)."""
        if not delta:
            return
        self._parts.append(delta)
        self._length += len(delta)
        text = self.text
        start = max(0, self._scan_from - _LOOKBACK)
        self._scan_code(text, start)
        self._scan_box(text, start)
        if self.think_end is None and (i := text.find(THINK_END, start)) >= 0:
            self.think_end = i + len(THINK_END)
        self._scan_from = self._length

    def _scan_code(self, text: str, start: int) -> None:
        if self.code_block is not None:
            return
        if self._code_start is None:
            hits = [(i, m) for m in CODE_OPEN if (i := text.find(m, start)) >= 0]
            if not hits:
                return
            i, marker = min(hits)
            self._code_start = i + len(marker)
            start = self._code_start
        close = text.find(CODE_CLOSE, max(start, self._code_start - 1))
        if close >= 0:
            end = close + len(CODE_CLOSE)
            self.code_block = CodeBlock(text[self._code_start : close + 1], end)

    def _scan_box(self, text: str, start: int) -> None:
        if self.boxed_end is not None:
            return
        if self._box_pos is None:
            hits = [i + len(m) for m in BOX_MARKERS if (i := text.find(m, start)) >= 0]
            if not hits:
                return
            self._box_pos = min(hits)
        pos, depth = self._box_pos, self._box_depth
        while pos < len(text):
            ch = text[pos]
            pos += 1
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    self.boxed_end = pos
                    return
            elif depth == 0 and not ch.isspace():
                # `\boxed 5` form: one token without braces, ended by whitespace or `$`.
                end = pos
                while end < len(text) and not text[end].isspace() and text[end] not in "$.,":
                    end += 1
                if end < len(text):
                    self.boxed_end = end
                return
        self._box_pos, self._box_depth = pos, depth
