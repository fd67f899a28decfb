"""Exact, bounded evaluation of LaTeX that denotes a number: `\\frac{12}{3}`, `2^{10}`, `10!`, floors.

A small recursive-descent parser over the characters (never `eval`, never a general LaTeX parser):
numbers, + - * / and their LaTeX spellings, implicit products like `100\\sqrt 2` and `5!\\,5!`, `^`,
`!`, `\\frac`, `\\binom`, `\\sqrt[n]{}`, `\\lfloor \\rfloor`, `\\lceil \\rceil`, `\\log_b`, `\\ln`,
`\\pi`, `\\bmod`, and mixed numbers `3\\frac{1}{2}`. Values are exact sympy numbers. Every operation
that can blow up (powers, factorials, binomials, roots, floors of irrationals, expansions) checks its
size first and raises `TooLarge`, so `2^{10^{100}}` fails in microseconds instead of hanging, and no
input of `Limits.length` characters runs sympy for long.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from aimo.answers.numerals import MAX_EXPONENT, parse_numeral


@dataclass(frozen=True)
class Limits:
    """Size bounds of one evaluation. `NORMAL` keeps every integer printable (Python refuses
    int -> str past 4,300 digits); `WIDE` is for exact comparison only (`\\frac{1}{2006!}`)."""

    bits: int = 13_000  # ~3,900 decimal digits: past any competition answer
    factorial: int = 2_000
    binomial_n: int = 100_000
    length: int = 400


NORMAL = Limits()
WIDE = Limits(bits=1 << 18, factorial=10_000, binomial_n=1_000_000)
MAX_BITS = NORMAL.bits
MAX_ROOT_DEGREE = 64
MAX_IRRATIONAL_EXPONENT = 256  # (1+\\sqrt 2)^{4000} is cheap to build but slow to floor or expand
MAX_EXPANDED_TERMS = 600
MAX_FLOOR_DIGITS = 4_000
MAX_DEPTH = 60

_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DIGITS = re.compile(r"\d+")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_MIXED_FRACTION = re.compile(r"\s*\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))")

_MUL_OPS = {"*": "*", "\\cdot": "*", "\\times": "*", "/": "/", "\\div": "/", "\\bmod": "%", "\\mod": "%"}
# What may follow a factor to make an implicit product (`2\sqrt3`, `3(4)`); never a digit: `12 34`
# must not read as 408 (but a factorial may: `5!\,5!` is 5!·5!).
_IMPLICIT_STARTS = ("(", "\\sqrt", "\\pi", "\\frac", "\\binom", "\\lfloor", "\\lceil", "\\log", "\\ln")


class EvalError(ValueError):
    """The text is not an arithmetic expression this evaluator reads."""


class TooLarge(EvalError):
    """Evaluating would produce a number past the size bounds."""


def evaluate(text: str, limits: Limits = NORMAL) -> sympy.Expr:
    """The exact value of `text` (cleaned LaTeX) as a sympy number; raises `EvalError` otherwise."""
    if len(text) > limits.length:
        raise EvalError("too long to evaluate")
    try:
        value = _Parser(text, limits).parse()
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
    if _small_powers(value) and _expanded_terms(value) <= MAX_EXPANDED_TERMS:
        expanded = sympy.expand(value)
        if expanded.is_Integer:
            return int(expanded)
    return None


def _small_powers(value: sympy.Expr) -> bool:
    return all(not p.exp.is_Integer or abs(p.exp) <= 16 for p in value.atoms(sympy.Pow))


def _expanded_terms(value: sympy.Expr) -> int:
    """An upper bound on the number of terms `sympy.expand(value)` produces (capped, to stay cheap)."""
    cap = MAX_EXPANDED_TERMS + 1
    if value.is_Add:
        return min(cap, sum(_expanded_terms(arg) for arg in value.args))
    if value.is_Mul:
        return min(cap, math.prod(_expanded_terms(arg) for arg in value.args))
    if value.is_Pow and value.exp.is_Integer and value.base.is_Add:
        terms, exponent = _expanded_terms(value.base), abs(int(value.exp))
        return min(cap, math.comb(terms + exponent - 1, exponent)) if terms < cap else cap
    return 1


def _bits(value: sympy.Expr) -> float:
    """Size of a number in bits: exact for rationals, from a 15-digit estimate otherwise."""
    if value.is_Rational:
        return max(abs(value.p).bit_length(), value.q.bit_length())
    sizes = [1.0]
    for part in value.evalf(15).as_real_imag():
        if part.is_Float and part:
            _, _, exponent, bit_count = part._mpf_
            sizes.append(abs(exponent + bit_count) + 1.0)
    return max(sizes)


class _Parser:
    """Recursive descent: expr := term (± term)*; term := unary ((* / mod | implicit) unary)*;
    unary := ± unary | power; power := postfix (^ exponent)?; postfix := atom !*."""

    def __init__(self, text: str, limits: Limits) -> None:
        self.text = text
        self.limits = limits
        self.pos = 0
        self.depth = 0

    def parse(self) -> sympy.Expr:
        value = self.expr()
        self.skip()
        if self.pos != len(self.text):
            raise EvalError(f"unexpected {self.text[self.pos : self.pos + 10]!r}")
        return value

    # -- bounded arithmetic
    def check(self, value: sympy.Expr) -> sympy.Expr:
        if value.is_Rational and _bits(value) > self.limits.bits:
            raise TooLarge("intermediate value too large")
        return value

    def power_of(self, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        bits = self.limits.bits
        if base == 0 and (exponent.is_negative or exponent == 0):
            raise EvalError("0 to a non-positive power")
        if exponent.is_Integer:
            n = int(exponent)
            if base in (0, 1) or (base == -1):
                return base**n
            if abs(n) > bits or abs(n) * _bits(base) > bits:
                raise TooLarge("power too large")
            if not base.is_Rational and abs(n) > MAX_IRRATIONAL_EXPONENT:
                raise TooLarge("power of an irrational too large")
            return self.check(base**n)
        if exponent.is_Rational:
            if not base.is_Rational or exponent.q > MAX_ROOT_DEGREE or abs(exponent.p) * _bits(base) > bits:
                raise TooLarge("fractional power too large")
            return base**exponent
        if _bits(base) > 64 or _bits(exponent) > 10:
            raise TooLarge("irrational power too large")
        return base**exponent

    def factorial(self, value: sympy.Expr) -> sympy.Expr:
        if not value.is_Integer or value < 0:
            raise EvalError("factorial of a non-natural number")
        if value > self.limits.factorial:
            raise TooLarge("factorial too large")
        return self.check(sympy.factorial(value))

    def binomial(self, n: sympy.Expr, k: sympy.Expr) -> sympy.Expr:
        if not (n.is_Integer and k.is_Integer) or n < 0:
            raise EvalError("binomial of non-natural numbers")
        if k < 0 or k > n:
            return sympy.Integer(0)
        if n > self.limits.binomial_n or min(k, n - k) * _bits(n) > self.limits.bits:
            raise TooLarge("binomial too large")
        return sympy.binomial(n, k)

    def root(self, value: sympy.Expr, degree: sympy.Expr) -> sympy.Expr:
        if not degree.is_Integer or not 1 <= degree <= MAX_ROOT_DEGREE:
            raise EvalError("root degree must be a small natural number")
        if _bits(value) > self.limits.bits:
            raise TooLarge("root of a huge number")
        if degree == 2:
            return sympy.sqrt(value)
        if value.is_negative and degree % 2 == 1:
            return -sympy.root(-value, degree)  # the real cube root of -8 is -2, as a reader means it
        return sympy.root(value, degree)

    def logarithm(self, value: sympy.Expr, base: sympy.Expr | None) -> sympy.Expr:
        if not (value.is_positive and (base is None or (base.is_positive and base != 1))):
            raise EvalError("logarithm outside its domain")
        if _bits(value) > self.limits.bits or (base is not None and _bits(base) > self.limits.bits):
            raise TooLarge("logarithm of a huge number")
        if base is None:
            return sympy.log(value)
        exact = _integer_log(value, base)
        return sympy.Integer(exact) if exact is not None else sympy.log(value) / sympy.log(base)

    def binary(self, op: str, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
        if op == "*":
            return self.check(left * right)
        if right == 0:
            raise EvalError("division by zero")
        if op == "/":
            return self.check(left / right)
        if not (left.is_Integer and right.is_Integer):
            raise EvalError("mod of non-integers")
        return sympy.Integer(int(left) % int(right))

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
            value = self.check(value + right if token == "+" else value - right)
        self.depth -= 1
        return value

    def term(self) -> sympy.Expr:
        value = self.unary()
        while True:
            token = self.peek_token()
            if token in _MUL_OPS:
                self.pos += len(token)
                value = self.binary(_MUL_OPS[token], value, self.unary())
            elif token in _IMPLICIT_STARTS or (
                token.isdigit() and self.text[: self.pos].rstrip().endswith("!")
            ):
                value = self.binary("*", value, self.power())
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
            return self.power_of(base, sympy.Integer(digits.group()))
        if self.peek_token() in ("+", "-"):
            return self.power_of(base, self.unary())
        return self.power_of(base, self.argument())

    def postfix(self) -> sympy.Expr:
        value = self.atom()
        while self.peek_token() == "!":
            self.pos += 1
            value = self.factorial(value)
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
            return self.binary("/", numerator, self.argument())
        if token == "\\binom":
            n = self.argument()
            return self.binomial(n, self.argument())
        if token == "\\sqrt":
            degree: Any = sympy.Integer(2)
            if self.peek_token() == "[":
                degree = self.group("[", "]")
            return self.root(self.argument(), degree)
        if token in ("\\lfloor", "\\lceil"):
            value = self.expr()
            self.take("\\rfloor" if token == "\\lfloor" else "\\rceil")
            return _round(value, ceiling=token == "\\lceil")
        if token in ("\\log", "\\ln"):
            return self.log_argument(token)
        if token == "\\pi":
            return sympy.pi
        raise EvalError(f"unsupported {token!r}")

    def log_argument(self, token: str) -> sympy.Expr:
        """`\\ln x`, `\\log_2 8`, `\\log_{3}(81)`; a bare `\\log` has no agreed base and is refused."""
        base = None
        if token == "\\log":
            if self.peek_token() != "_":
                raise EvalError("logarithm without a base")
            self.pos += 1
            base = self.argument()
        if self.peek_token() in ("(", "{"):
            return self.logarithm(self.argument() if self.peek_token() == "{" else self.atom(), base)
        return self.logarithm(self.power(), base)

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
        return self.check(result)


def _integer_log(value: sympy.Expr, base: sympy.Expr) -> int | None:
    """n when value = base^n exactly for an integer n (`\\log_2 8` = 3), else None."""
    if not (value.is_Rational and base.is_Rational):
        return None
    estimate = round(math.log(abs(float(value)) or 1e-300) / math.log(float(base))) if value != 1 else 0
    for n in (estimate - 1, estimate, estimate + 1):
        if abs(n) <= MAX_BITS and base**n == value:
            return n
    return None


def _round(value: sympy.Expr, ceiling: bool) -> sympy.Expr:
    """Floor or ceiling, exactly: rationals in integers; irrationals from enough digits, refusing a
    value so close to an integer that digits cannot tell which side it is on."""
    if value.is_Rational:
        fraction = Fraction(int(value.p), int(value.q))
        return sympy.Integer(math.ceil(fraction) if ceiling else math.floor(fraction))
    if not value.is_real:
        raise EvalError("floor of a non-real number")
    digits = int(_bits(value) * 0.302) + 30
    while digits <= MAX_FLOOR_DIGITS:
        approx = value.evalf(digits)
        if not approx.is_Float:
            raise EvalError("floor of a non-real number")
        below = int(sympy.floor(approx))
        margin = sympy.Float(10) ** (int(_bits(value) * 0.302) - digits + 10)
        if margin < approx - below < 1 - margin:
            return sympy.Integer(below + 1 if ceiling else below)
        digits *= 2  # (1+\\sqrt 2)^{200} is an integer minus 10^{-77}: look closer
    exact = as_integer(
        value
    )  # `\\lfloor \\sqrt 2 \\cdot \\sqrt 8 \\rfloor`: an integer, if expansion shows it
    if exact is None:
        raise EvalError("floor of a value too close to an integer to decide")
    return sympy.Integer(exact)
