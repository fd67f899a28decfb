"""One canonical string per answer, so that equal answers vote together and compare equal.

`normalize` cleans the LaTeX, reads a choice label, a congruence or an assignment, then tries to
read the rest as an exact number (numeral, then bounded evaluation). Canonical forms:
integers in decimal (`1{,}000` → `1000`, `\\frac{12}{3}` → `4`, `41.0` → `41`); other rationals
as `\\frac{p}{q}` (`0.5` and `\\dfrac12` → `\\frac{1}{2}`; `41.5` → `\\frac{83}{2}`, never 41);
other exact numbers in sympy's LaTeX (`7\\pi` → `7 \\pi`); a bare choice as its letter; anything
else as cleaned LaTeX with tidy spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import sympy

from aimo.answers.evaluate import EvalError, as_integer, evaluate
from aimo.answers.latex import VARIABLE, clean, split_choice, strip_assignment, strip_congruence
from aimo.answers.numerals import parse_numeral

MAX_NORMALIZE_CHARS = 2000

Kind = Literal["empty", "integer", "number", "choice", "text", "expression"]

_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*")
_TRAILING_UNIT = re.compile(r"[A-Za-z][A-Za-z. ]*(?:\^\{?[23]\}?)?")
_KNOWN_UNITS = frozenset(
    ["cm", "m", "km", "mm", "in", "ft", "yd", "mi", "kg", "g", "mg", "lb", "lbs", "oz", "s", "sec", "min",
     "h", "hr", "hrs", "ml", "l", "mph", "kph", "units"]
)  # fmt: skip
_NOT_UNITS = frozenset(["or", "and", "to", "if", "for", "when", "with", "of", "is", "are", "not", "but"])


@dataclass(frozen=True)
class Normalized:
    """A candidate answer read as far as it goes; `canonical` is what votes and comparisons use."""

    text: str
    canonical: str
    kind: Kind
    value: sympy.Expr | None = None  # the exact value, when the answer is a number
    integer: int | None = None  # the integer it denotes; None for 41.5 and for non-numbers
    choice: str | None = None  # a multiple-choice label (A–E) it carried


def normalize(text: str) -> Normalized:
    """Read a candidate answer (the content of a box, a phrase's tail, a gold answer)."""
    return _normalize(text.strip())


def canonical(text: str) -> str:
    """The canonical string of a candidate answer (see `normalize`)."""
    return normalize(text).canonical


def to_integer(text: str) -> int | None:
    """The integer a candidate answer denotes, or None; `41.5` is None, `41.0` is 41."""
    return normalize(text).integer


def clear_cache() -> None:
    """Forget memoized normalizations (for cold-cache timings)."""
    _normalize.cache_clear()


@lru_cache(maxsize=8192)
def _normalize(text: str) -> Normalized:
    if not text:
        return Normalized(text, "", "empty")
    if len(text) > MAX_NORMALIZE_CHARS:
        return Normalized(text, " ".join(text.split()), "expression")
    body = clean(text)
    choice, body = split_choice(body)
    if choice is not None and body == choice:
        return Normalized(text, choice, "choice", choice=choice)
    body = strip_assignment(strip_congruence(body))
    value = _numeric_value(body)
    if value is None:
        kind: Kind = "text" if _WORDS.fullmatch(body) else ("empty" if not body else "expression")
        return Normalized(text, body, kind, choice=choice)
    integer = as_integer(value)
    if integer is not None:
        return Normalized(text, str(integer), "integer", sympy.Integer(integer), integer, choice)
    return Normalized(text, _number_latex(value), "number", value, None, choice)


def _numeric_value(body: str) -> sympy.Expr | None:
    value = _number(body)
    if value is not None:
        return value
    # A chain like `10\cdot 6\cdot 7 = 420` or `x = 2 + 3 = 5` denotes its last side.
    parts = body.split("=")
    if len(parts) > 1 and all(_is_left_side(part.strip()) for part in parts[:-1]):
        return _number(parts[-1])
    return None


def _is_left_side(part: str) -> bool:
    """A variable or a number before an `=` (and not the `<` of `<=`)."""
    if not part or part[-1] in "<>!\\":
        return False
    return VARIABLE.fullmatch(part) is not None or _number(part) is not None


def _number(text: str) -> sympy.Expr | None:
    """The exact value of `text` as a numeral or an evaluable expression, with or without a unit."""
    for candidate in (text, _strip_unit(text)):
        if candidate is None:
            continue
        numeral = parse_numeral(candidate)
        if numeral is not None:
            return sympy.Rational(numeral.numerator, numeral.denominator)
        try:
            return evaluate(candidate)
        except EvalError:
            continue
    return None


def _strip_unit(text: str) -> str | None:
    """`12 inches` → `12`, `5cm^2` → `5`; None when there is no trailing unit word to strip."""
    start = len(text)
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] in ". ^{}23"):
        start -= 1
    # Walk forward to the first letter of the run, not preceded by a backslash (`\pi` is no unit).
    while start < len(text) and not text[start].isalpha():
        start += 1
    unit = text[start:]
    number = text[:start]
    if not unit or not number.strip() or number.endswith("\\") or not _TRAILING_UNIT.fullmatch(unit):
        return None
    words = [word.rstrip(".").lower() for word in unit.split("^")[0].split()]
    if not number[-1].isspace() and (len(words) != 1 or words[0] not in _KNOWN_UNITS):
        return None  # `5x` is a product, not five units of x
    # `1 or x` and `3 x` are not units either: one-letter words must be known units (`5 m`).
    if any(w in _NOT_UNITS or (len(w) == 1 and w not in _KNOWN_UNITS) for w in words):
        return None
    if any(c.isalpha() for c in number):
        return None
    return number.strip()


def _number_latex(value: sympy.Expr) -> str:
    if value.is_Rational:
        sign = "-" if value < 0 else ""
        return rf"{sign}\frac{{{abs(value.p)}}}{{{value.q}}}"
    return sympy.latex(value)
