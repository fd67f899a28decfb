"""Incremental detection of code blocks, boxed answers and </think> in streamed text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aimo.solve.scan import StreamScanner

TEXT = (
    "<think>Let me compute.</think>We use Python.\n```python\nx = {1: 2}\nprint(x[1])\n```\n"
    "So the answer is \\boxed{\\frac{1}{2}} indeed."
)


def scan(pieces: list[str]) -> StreamScanner:
    scanner = StreamScanner()
    for piece in pieces:
        scanner.feed(piece)
    return scanner


def test_detects_each_event_at_the_right_offset():
    s = scan([TEXT])
    assert s.code_block is not None and s.code_block.code == "x = {1: 2}\nprint(x[1])\n"
    assert TEXT[: s.code_block.end].endswith("print(x[1])\n```")
    assert TEXT[: s.boxed_end].endswith("\\boxed{\\frac{1}{2}}")
    assert TEXT[: s.think_end].endswith("</think>")


def test_unfinished_events_are_not_reported():
    s = scan(["```python\nprint(1)\n", "\\boxed{\\frac{1}{2"])
    assert s.code_block is None and s.boxed_end is None


def test_boxed_without_braces():
    s = scan(["the answer is \\boxed 7", "3 so"])
    assert s.text[: s.boxed_end] == "the answer is \\boxed 73"


@given(st.lists(st.integers(0, len(TEXT)), max_size=12))
def test_any_split_of_the_stream_detects_the_same(cuts):
    points = sorted(set(cuts))
    pieces = [TEXT[a:b] for a, b in zip([0, *points], [*points, len(TEXT)], strict=True)]
    whole, parts = scan([TEXT]), scan(pieces)
    assert (parts.code_block, parts.boxed_end, parts.think_end) == (
        whole.code_block,
        whole.boxed_end,
        whole.think_end,
    )
    assert parts.text == TEXT


def test_many_one_character_deltas_keep_offsets_right():
    s = StreamScanner()
    for ch in "a" * 300_000:
        s.feed(ch)
    s.feed("\\boxed{5}")
    assert s.boxed_end == 300_000 + len("\\boxed{5}")


def test_empty_and_phantom_boxes_are_templates_not_answers():
    s = scan(["Answer format: \\boxed{} or \\boxed{\\phantom{2}}. Work", "ing... so \\boxed{", "4}."])
    assert s.text[: s.boxed_end].endswith("so \\boxed{4}")
