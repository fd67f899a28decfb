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

from aimo.answers.arithmetic import NORMAL, WIDE, EvalError, Limits, as_integer, evaluate
from aimo.answers.latex import (
    VARIABLE,
    clean,
    inequality_to_interval,
    split_choice,
    strip_assignment,
    strip_congruence,
)
from aimo.answers.numerals import parse_numeral, words_to_int

MAX_NORMALIZE_CHARS = 2000

Kind = Literal["empty", "integer", "number", "choice", "text", "expression"]

_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*")
_TRAILING_UNIT = re.compile(r"[A-Za-z][A-Za-z./ ]*(?:\^\{?[23]\}?)?")
_KNOWN_UNITS = frozenset(
    ["cm", "m", "km", "mm", "in", "ft", "yd", "mi", "kg", "g", "mg", "lb", "lbs", "oz", "s", "sec", "min",
     "h", "hr", "hrs", "ml", "l", "mph", "kph", "units"]
)  # fmt: skip
_NOT_UNITS = frozenset(["or", "and", "to", "if", "for", "when", "with", "of", "is", "are", "not", "but"])
# A sentence that states its value last: "The answer is 57", "the number of ways is 12", "Total: 57".
_CONNECTOR = re.compile(r"(?i)\b(?:is|are|was|equals|be|becomes|gives|yields)\b|\bequal to\b|=|:")
_PROSE = re.compile(
    r"(?<![\\A-Za-z])(?:[A-Za-z]{3,}|(?i:or|if|so|to|is|as|at|of|in|on|by|be|we|it)(?![A-Za-z]))"
)
_ALTERNATIVE = re.compile(r"(?i)\bor\b|\\pm")  # `x = 2 or x = 3` states no single value
_LEADING_NUMBER = re.compile(r"\s*[-+]?\d")
# A side that names a quantity, like `m+n`, `100m+n`, `a_1 a_2`, `f(3)`, `|z|^2`, `\frac{m}{n}`.
_SYMBOLIC_SIDE = re.compile(r"[A-Za-z0-9_^{}()+\-*/| \\]*[A-Za-z][A-Za-z0-9_^{}()+\-*/| \\]*")
_COEFFICIENT_TIMES_VARIABLE = re.compile(r"-?\d+(?:\.\d+)?\s*[A-Za-z]")  # `2x = 6` asks for x


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


def exact_value(normalized: Normalized) -> sympy.Expr | None:
    """The exact value of an answer, also past the size bounds of `normalize` (`\\frac{1}{2006!}`):
    for comparing, never for printing."""
    if normalized.value is not None or normalized.kind != "expression":
        return normalized.value
    return _numeric_value(normalized.canonical, WIDE)


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
    body = inequality_to_interval(strip_assignment(strip_congruence(body)))
    value = _numeric_value(body)
    if value is None:
        kind: Kind = "text" if _WORDS.fullmatch(body) else ("empty" if not body else "expression")
        return Normalized(text, body, kind, choice=choice)
    integer = as_integer(value)
    if integer is not None:
        return Normalized(text, str(integer), "integer", sympy.Integer(integer), integer, choice)
    return Normalized(text, _number_latex(value), "number", value, None, choice)


def _numeric_value(body: str, limits: Limits = NORMAL) -> sympy.Expr | None:
    value = _number(body, limits)
    if value is not None:
        return value
    # A chain like `10\cdot 6\cdot 7 = 420`, `x = 2 + 3 = 5` or `m+n=65` denotes its last side.
    parts = body.split("=")
    if len(parts) > 1 and all(_is_left_side(part.strip()) for part in parts[:-1]):
        value = _number(parts[-1], limits)
        if value is not None and not (value == 0 and any(map(_has_letter, parts[:-1]))):
            return value  # but `x^2-5x+6=0` is an equation, not the answer 0
    return _sentence_value(body, limits)


def _is_left_side(part: str) -> bool:
    """A number, or an expression naming a quantity (`m+n`), before an `=` (and not the `<` of `<=`)."""
    if not part or part[-1] in "<>!\\":
        return False
    if VARIABLE.fullmatch(part) is not None or _number(part) is not None:
        return True
    return (
        _SYMBOLIC_SIDE.fullmatch(part) is not None
        and not _PROSE.search(part)
        and not _COEFFICIENT_TIMES_VARIABLE.fullmatch(part)
    )


def _has_letter(text: str) -> bool:
    return any(char.isalpha() for char in text)


def _sentence_value(body: str, limits: Limits) -> sympy.Expr | None:
    """The value a sentence states at its end: `The answer is 57` → 57; `5 when x is 2` → None."""
    if not _PROSE.search(body) or _LEADING_NUMBER.match(body) or _ALTERNATIVE.search(body):
        return None
    connector = None
    for connector in _CONNECTOR.finditer(body):  # noqa: B007 - the last one: the value comes after it
        pass
    if connector is None:
        return None
    head, tail = body[: connector.start()], body[connector.end() :].strip()
    return _number(tail, limits) if tail and _PROSE.search(head) else None


def _number(text: str, limits: Limits = NORMAL) -> sympy.Expr | None:
    """The exact value of `text` as a numeral or an evaluable expression, with or without a unit."""
    for candidate in (text, _strip_unit(text)):
        if candidate is None:
            continue
        numeral = parse_numeral(candidate)
        if numeral is not None:
            return sympy.Rational(numeral.numerator, numeral.denominator)
        try:
            return evaluate(candidate, limits)
        except EvalError:
            continue
    return None


def _strip_unit(text: str) -> str | None:
    """`12 inches` → `12`, `5cm^2` → `5`; None when there is no trailing unit word to strip."""
    start = len(text)
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] in ". ^{}23/"):
        start -= 1
    # Walk forward to the first letter of the run, not preceded by a backslash (`\pi` is no unit).
    while start < len(text) and not text[start].isalpha():
        start += 1
    unit = text[start:]
    number = text[:start]
    if not number.strip():
        return _strip_unit_after_words(text)
    if not unit or number.endswith("\\") or not _TRAILING_UNIT.fullmatch(unit):
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


def _strip_unit_after_words(text: str) -> str | None:
    """`twelve students` → `12`: number words, then unit words (never `one or two`)."""
    words = text.split()
    for cut in range(min(len(words), 8) - 1, 0, -1):
        value = words_to_int(" ".join(words[:cut]))
        units = [word.rstrip(".").lower() for word in words[cut:]]
        if value is not None and all(w.isalpha() and len(w) > 1 and w not in _NOT_UNITS for w in units):
            return str(value)
    return None


def _number_latex(value: sympy.Expr) -> str:
    if value.is_Rational:
        sign = "-" if value < 0 else ""
        return rf"{sign}\frac{{{abs(value.p)}}}{{{value.q}}}"
    return sympy.latex(value)
