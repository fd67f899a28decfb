"""Stop strings and UTF-8 across token boundaries, for engines that see tokens rather than text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aimo.engines.textstream import StopTextStream


def run(pieces: list[bytes], stop: list[str]) -> tuple[str, bool]:
    stream = StopTextStream(stop)
    out = "".join(stream.feed(p) for p in pieces)
    if not stream.stopped:
        out += stream.flush()
    return out, stream.stopped


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def test_stop_string_split_across_tokens_is_found_and_not_emitted():
    assert run([b"x = 1\n``", b"`out", b"put\n4"], ["```output"]) == ("x = 1\n", True)


def test_text_without_stop_is_emitted_whole():
    assert run([b"abc", b"def"], ["zz"]) == ("abcdef", False)


def test_multibyte_character_split_between_tokens():
    data = "π ≈ 3.14 — ✓".encode()
    assert run([data[:1], data[1:5], data[5:]], []) == ("π ≈ 3.14 — ✓", False)


@given(
    st.text(max_size=60),
    st.lists(st.integers(0, 200), max_size=8),
    st.sampled_from(["</s>", "```output", "ab"]),
)
def test_any_split_gives_the_same_text_as_one_piece(text, cuts, stop):
    data = text.encode()
    whole = run([data], [stop])
    assert run(split(data, cuts), [stop]) == whole
    expected = text[: text.index(stop)] if stop in text else text
    assert whole == (expected, stop in text)
