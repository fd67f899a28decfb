"""Exact, bounded evaluation of LaTeX that denotes a number: `\\frac{12}{3}`, `2^{10}`, `10!`, floors.

A small recursive-descent parser over the characters (never `eval`, never a general LaTeX parser):
numbers, + - * / and their LaTeX spellings, implicit products like `100\\sqrt 2`, `^`, `!`,
`\\frac`, `\\binom`, `\\sqrt[n]{}`, `\\lfloor \\rfloor`, `\\lceil \\rceil`, `\\pi`, `\\bmod`, and
mixed numbers `3\\frac{1}{2}`. Values are exact sympy numbers. Every operation that can blow up
(powers, factorials, binomials, roots) checks its size first and raises `TooLarge`, so
`2^{10^{100}}` fails in microseconds instead of hanging.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import sympy

from aimo.answers.numerals import MAX_EXPONENT, parse_numeral

MAX_BITS = 13_000  # ~3,900 decimal digits: past any competition answer, inside int<->str limits
MAX_FACTORIAL = 2_000
MAX_BINOMIAL_N = 100_000
MAX_ROOT_DEGREE = 64
MAX_DEPTH = 60
MAX_LENGTH = 400

_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DIGITS = re.compile(r"\d+")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_MIXED_FRACTION = re.compile(r"\s*\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))")

_MUL_OPS = {"*": "*", "\\cdot": "*", "\\times": "*", "/": "/", "\\div": "/", "\\bmod": "%", "\\mod": "%"}
# What may follow a factor to make an implicit product (`2\sqrt3`, `3(4)`); never a digit: `12 34`
# must not read as 408.
_IMPLICIT_STARTS = ("(", "\\sqrt", "\\pi", "\\frac", "\\binom", "\\lfloor", "\\lceil")


class EvalError(ValueError):
    """The text is not an arithmetic expression this evaluator reads."""


class TooLarge(EvalError):
    """Evaluating would produce a number past the size bounds."""


def evaluate(text: str) -> sympy.Expr:
    """The exact value of `text` (cleaned LaTeX) as a sympy number; raises `EvalError` otherwise."""
    if len(text) > MAX_LENGTH:
        raise EvalError("too long to evaluate")
    try:
        value = _Parser(text).parse()
    except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:
        if isinstance(exc, EvalError):
            raise
        raise EvalError(str(exc)) from exc
    if not value.is_number or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise EvalError("not a finite number")
    return value


def as_integer(value: sympy.Expr) -> int | None:
    """The integer an exact value equals, or None (never rounds)."""
    if value.is_Rational:
        return int(value) if value.q == 1 else None
    if _small_powers(value):
        expanded = sympy.expand(value)
        if expanded.is_Integer:
            return int(expanded)
    return None


def _small_powers(value: sympy.Expr) -> bool:
    return all(not p.exp.is_Integer or abs(p.exp) <= 16 for p in value.atoms(sympy.Pow))


def _bits(value: sympy.Expr) -> float:
    """Size of a number in bits: exact for rationals, from a 15-digit estimate otherwise."""
    if value.is_Rational:
        return max(abs(value.p).bit_length(), value.q.bit_length())
    magnitude = abs(complex(value.evalf(15)))
    return abs(math.log2(magnitude)) + 1 if magnitude else 1.0


def _check(value: sympy.Expr) -> sympy.Expr:
    if value.is_Rational and _bits(value) > MAX_BITS:
        raise TooLarge("intermediate value too large")
    return value


def _power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    if base == 0 and (exponent.is_negative or exponent == 0):
        raise EvalError("0 to a non-positive power")
    if exponent.is_Integer:
        n = int(exponent)
        if base in (0, 1) or (base == -1):
            return base**n
        if abs(n) > MAX_BITS or abs(n) * _bits(base) > MAX_BITS:
            raise TooLarge("power too large")
        return _check(base**n)
    if exponent.is_Rational:
        if not base.is_Rational or exponent.q > MAX_ROOT_DEGREE or abs(exponent.p) * _bits(base) > MAX_BITS:
            raise TooLarge("fractional power too large")
        return base**exponent
    if _bits(base) > 64 or _bits(exponent) > 10:
        raise TooLarge("irrational power too large")
    return base**exponent


def _factorial(value: sympy.Expr) -> sympy.Expr:
    if not value.is_Integer or value < 0:
        raise EvalError("factorial of a non-natural number")
    if value > MAX_FACTORIAL:
        raise TooLarge("factorial too large")
    return sympy.factorial(value)


def _binomial(n: sympy.Expr, k: sympy.Expr) -> sympy.Expr:
    if not (n.is_Integer and k.is_Integer) or n < 0:
        raise EvalError("binomial of non-natural numbers")
    if k < 0 or k > n:
        return sympy.Integer(0)
    if n > MAX_BINOMIAL_N or min(k, n - k) * _bits(n) > MAX_BITS:
        raise TooLarge("binomial too large")
    return sympy.binomial(n, k)


def _root(value: sympy.Expr, degree: sympy.Expr) -> sympy.Expr:
    if not degree.is_Integer or not 1 <= degree <= MAX_ROOT_DEGREE:
        raise EvalError("root degree must be a small natural number")
    if _bits(value) > MAX_BITS:
        raise TooLarge("root of a huge number")
    if degree == 2:
        return sympy.sqrt(value)
    if value.is_negative and degree % 2 == 1:
        return -sympy.root(-value, degree)  # the real cube root of -8 is -2, as a reader means it
    return sympy.root(value, degree)


def _round(value: sympy.Expr, ceiling: bool) -> sympy.Expr:
    if value.is_Rational:
        fraction = Fraction(int(value.p), int(value.q))
        return sympy.Integer(math.ceil(fraction) if ceiling else math.floor(fraction))
    if not value.is_real:
        raise EvalError("floor of a non-real number")
    return (sympy.ceiling if ceiling else sympy.floor)(value)


def _binary(op: str, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
    if op == "*":
        return _check(left * right)
    if right == 0:
        raise EvalError("division by zero")
    if op == "/":
        return _check(left / right)
    if not (left.is_Integer and right.is_Integer):
        raise EvalError("mod of non-integers")
    return sympy.Integer(int(left) % int(right))


class _Parser:
    """Recursive descent: expr := term (± term)*; term := unary ((* / mod | implicit) unary)*;
    unary := ± unary | power; power := postfix (^ exponent)?; postfix := atom !*."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def parse(self) -> sympy.Expr:
        value = self.expr()
        self.skip()
        if self.pos != len(self.text):
            raise EvalError(f"unexpected {self.text[self.pos : self.pos + 10]!r}")
        return value

    # -- scanning helpers
    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek_token(self) -> str:
        """The next token without consuming it: a command like `\\frac` or one character."""
        self.skip()
        if self.pos >= len(self.text):
            return ""
        match = _COMMAND.match(self.text, self.pos)
        return match.group() if match else self.text[self.pos]

    def take(self, token: str) -> None:
        if self.peek_token() != token:
            raise EvalError(f"expected {token!r}")
        self.pos += len(token)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise EvalError("nested too deeply")

    # -- grammar
    def expr(self) -> sympy.Expr:
        self.enter()
        value = self.term()
        while (token := self.peek_token()) in ("+", "-"):
            self.pos += 1
            right = self.term()
            value = _check(value + right if token == "+" else value - right)
        self.depth -= 1
        return value

    def term(self) -> sympy.Expr:
        value = self.unary()
        while True:
            token = self.peek_token()
            if token in _MUL_OPS:
                self.pos += len(token)
                value = _binary(_MUL_OPS[token], value, self.unary())
            elif token in _IMPLICIT_STARTS:
                value = _binary("*", value, self.power())
            else:
                return value

    def unary(self) -> sympy.Expr:
        token = self.peek_token()
        if token in ("+", "-"):
            self.pos += 1
            self.enter()
            value = self.unary()
            self.depth -= 1
            return -value if token == "-" else value
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.postfix()
        if self.peek_token() != "^":
            return base
        self.pos += 1
        self.skip()
        # `2^10` is 2^{10}, as every model that writes it means, not TeX's 2^1·0.
        digits = _DIGITS.match(self.text, self.pos)
        if digits:
            self.pos = digits.end()
            return _power(base, sympy.Integer(digits.group()))
        if self.peek_token() in ("+", "-"):
            return _power(base, self.unary())
        return _power(base, self.argument())

    def postfix(self) -> sympy.Expr:
        value = self.atom()
        while self.peek_token() == "!":
            self.pos += 1
            value = _factorial(value)
        return value

    def argument(self) -> sympy.Expr:
        """A macro argument: `{expr}`, else one digit or one command atom, as TeX reads `\\frac12`."""
        token = self.peek_token()
        if token == "{":
            return self.group("{", "}")
        if token.isdigit():
            self.pos += 1
            return sympy.Integer(token)
        if token.startswith("\\"):
            return self.atom()
        raise EvalError(f"bad argument {token!r}")

    def group(self, left: str, right: str) -> sympy.Expr:
        self.take(left)
        value = self.expr()
        self.take(right)
        return value

    def atom(self) -> sympy.Expr:
        self.enter()
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self) -> sympy.Expr:
        token = self.peek_token()
        if token.isdigit() or token == ".":
            return self.number()
        if token in ("(", "{", "["):
            return self.group(token, {"(": ")", "{": "}", "[": "]"}[token])
        self.pos += len(token)
        if token == "\\frac":
            numerator = self.argument()
            return _binary("/", numerator, self.argument())
        if token == "\\binom":
            n = self.argument()
            return _binomial(n, self.argument())
        if token == "\\sqrt":
            degree: Any = sympy.Integer(2)
            if self.peek_token() == "[":
                degree = self.group("[", "]")
            return _root(self.argument(), degree)
        if token in ("\\lfloor", "\\lceil"):
            value = self.expr()
            self.take("\\rfloor" if token == "\\lfloor" else "\\rceil")
            return _round(value, ceiling=token == "\\lceil")
        if token == "\\pi":
            return sympy.pi
        raise EvalError(f"unsupported {token!r}")

    def number(self) -> sympy.Expr:
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise EvalError("bad number")
        self.pos = match.end()
        value = parse_numeral(match.group())
        if value is None:
            raise TooLarge(f"exponent past {MAX_EXPONENT}")
        result = sympy.Rational(value.numerator, value.denominator)
        mixed = _MIXED_FRACTION.match(self.text, self.pos)
        if mixed and value.denominator == 1:
            # `3\frac{1}{2}` is three and a half in every answer key that writes it.
            self.pos = mixed.end()
            numerator = int(mixed.group(1) or mixed.group(2))
            denominator = int(mixed.group(3) or mixed.group(4))
            if denominator == 0:
                raise EvalError("division by zero")
            result = result + sympy.Rational(numerator, denominator)
        return _check(result)
