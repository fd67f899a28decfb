"""Reading a whole string as a numeral: digits, thousands separators, e-notation, number words.

Values are exact `Fraction`s, so `41.5` stays 83/2 and is never mistaken for an integer.
"""

from __future__ import annotations

import re
from fractions import Fraction

# Python refuses int <-> str conversions past 4,300 digits; stay well inside that.
MAX_DIGITS = 4000
MAX_EXPONENT = 4000

_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_E_NOTATION = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))[eE]([+-]?\d+)")
# Groups of exactly three after the first; the separator must be the same throughout.
_THOUSANDS = re.compile(r"([+-]?\d{1,3})(,|'| )(\d{3})((?:\2\d{3})*)(\.\d+)?")

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}  # fmt: skip
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_WORD_SPLIT = re.compile(r"[\s-]+")


def parse_numeral(text: str) -> Fraction | None:
    """The exact value of `text` if the whole of it is one numeral, else None.

    Accepts `42`, `-3`, `41.0`, `.5`, `1,000`, `1 000`, `1'000` (every group after the first of
    exactly three digits, one separator throughout), `1e3`, `1.5E-2`, and number words.
    """
    text = text.strip()
    if not text or len(text) > MAX_DIGITS:
        return None
    if _PLAIN.fullmatch(text):
        return Fraction(text)
    match = _THOUSANDS.fullmatch(text)
    if match:
        head, _, first, rest, decimals = match.groups()
        return Fraction(head + first + rest.replace(match.group(2), "") + (decimals or ""))
    match = _E_NOTATION.fullmatch(text)
    if match:
        exponent = int(match.group(2))
        if abs(exponent) > MAX_EXPONENT:
            return None
        return Fraction(match.group(1)) * Fraction(10) ** exponent
    value = words_to_int(text)
    return None if value is None else Fraction(value)


def words_to_int(text: str) -> int | None:
    """`forty-two` → 42, `one hundred and five` → 105, `minus three` → -3; None unless all are numbers."""
    words = [w for w in _WORD_SPLIT.split(text.strip().lower()) if w and w != "and"]
    sign = 1
    if words and words[0] in ("minus", "negative"):
        sign, words = -1, words[1:]
    if len(words) > 1 and words[0] == "a" and (words[1] == "hundred" or words[1] in _SCALES):
        words[0] = "one"
    if not words:
        return None
    total = current = 0
    last = ""  # the class of the previous word, to reject sequences like "one two"
    for word in words:
        if word in _UNITS and last not in ("unit", "teen"):
            current += _UNITS[word]
            last = "teen" if _UNITS[word] >= 10 else "unit"
        elif word in _TENS and last not in ("unit", "teen", "tens"):
            current += _TENS[word]
            last = "tens"
        elif word == "hundred" and last in ("unit", "teen") and current < 100:
            current *= 100
            last = "hundred"
        elif word in _SCALES and current > 0:
            total += current * _SCALES[word]
            current = 0
            last = "scale"
        else:
            return None
    return sign * (total + current)


def fraction_to_int(value: Fraction) -> int | None:
    """The integer `value` denotes, or None; never rounds."""
    return value.numerator if value.denominator == 1 else None
