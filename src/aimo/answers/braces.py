"""Brace matching in one linear pass: the one thing every `oxed{(.*?)}` regex gets wrong."""

from __future__ import annotations

import re

# `\\` (a LaTeX line break) and `\{` / `\}` (literal set braces) are not grouping braces.
_BRACE_TOKEN = re.compile(r"\\[\\{}]|[{}]")


def match_braces(text: str, start: int = 0) -> dict[int, int]:
    """Map the index of every grouping `{` at or after `start` to the index of its matching `}`.

    Unclosed braces (a truncated output) are absent from the map; stray `}` are ignored. Runs in
    time linear in the length of the text: the regex skips everything that is not a brace in C.
    """
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for token in _BRACE_TOKEN.finditer(text, start):
        brace = token.group()
        if brace == "{":
            stack.append(token.start())
        elif brace == "}" and stack:
            pairs[stack.pop()] = token.start()
    return pairs


def group_end(text: str, open_index: int) -> int | None:
    """Index of the `}` closing the group opened at `open_index`, or None if it never closes.

    For short strings (a candidate answer); scans from `open_index` only as far as the group.
    """
    depth = 0
    for token in _BRACE_TOKEN.finditer(text, open_index):
        brace = token.group()
        if brace == "{":
            depth += 1
        elif brace == "}":
            depth -= 1
            if depth == 0:
                return token.start()
    return None


def balanced(text: str) -> bool:
    """Whether every grouping brace of `text` is closed (`\\sqrt{2` is a truncated answer)."""
    depth = 0
    for token in _BRACE_TOKEN.finditer(text):
        depth += {"{": 1, "}": -1}.get(token.group(), 0)
        if depth < 0:
            return False
    return depth == 0
