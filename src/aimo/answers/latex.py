"""Cleaning a candidate answer's LaTeX: wrappers, spacing, delimiters, degrees, labels.

Every function here maps a string to a string and never evaluates anything. The regexes have no
nested quantifiers, so each is linear in its input; callers bound the input length anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from aimo.answers.braces import group_end

_UNICODE = str.maketrans(
    {
        "−": "-",
        "–": "-",
        "×": r"\times ",
        "·": r"\cdot ",
        "÷": r"\div ",
        "π": r"\pi ",
        "√": r"\sqrt ",
        "°": r"^\circ ",
        "∞": r"\infty ",
        "≤": r"\le ",
        "≥": r"\ge ",
        "⌊": r"\lfloor ",
        "⌋": r"\rfloor ",
        "⌈": r"\lceil ",
        "⌉": r"\rceil ",
        "\u00a0": " ",
        "\u2009": r"\,",
        "\u202f": r"\,",
    }
)

# Commands whose braced argument is kept and the command dropped.
UNWRAP_COMMANDS: tuple[str, ...] = (
    "boxed", "fbox", "framebox", "text", "textbf", "textit", "textrm", "textsf", "texttt", "textnormal",
    "mathbf", "mathrm", "mathit", "mathsf", "mathtt", "mathbb", "mathnormal", "mbox", "hbox", "emph",
    "boldsymbol", "bm", "underline", "displaystyle",
)  # fmt: skip

_DROP = re.compile(
    r"\\(?:left|right|[bB]igg?[lrm]?)(?![A-Za-z])\s*\.?"  # sizing; `\left.` is an invisible delimiter
    r"|\\(?:displaystyle|textstyle|limits|nolimits|bf|it|rm|sf|tt|noindent|phantom\{\})(?![A-Za-z])"
)
_RENAME = re.compile(r"\\(?:[dtc]frac|[dt]binom)(?![A-Za-z])")
_DEGREES = re.compile(
    r"(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\circ(?![A-Za-z])|\\degree(?![A-Za-z])"
    r"|\^\s*\{\s*\\text\{\s*o\s*\}\s*\})(?:\s*[CF](?![A-Za-z]))?"  # `30^\circ C`
)
_PERCENT = re.compile(r"\\?%")
_DOLLARS = re.compile(r"\\\$|\$")
# One regex for every backslash escape that is spacing, so that `\\` (a matrix row break) is
# consumed as a pair first and never read as `\` followed by a space command.
_SPACING = re.compile(r"\\\\|\\[ ,;:!>]|\\q?quad(?![A-Za-z])|\\(?:enspace|thinspace)(?![A-Za-z])|~")
# Unambiguous LaTeX thousands separators between digit groups of exactly three.
_SEP = r"(?:\{,\}|\\,|\\!,\\!|\\ |\\;|\\:|~|\\thinspace(?![A-Za-z])\s*)"
_LATEX_THOUSANDS = re.compile(rf"(?<![\d.])\d{{1,3}}(?:{_SEP}\d{{3}})+(?![\d])")
_SEP_ONLY = re.compile(_SEP)
_SPACES = re.compile(r"\s+")
_AROUND_OPERATORS = re.compile(r"\s*(\\\\|[-+*/=^_(),\[\]{}<>|:;&])\s*")
_BEFORE_COMMAND = re.compile(r" (?=\\)")  # `2 \pi` → `2\pi`: a command starts at its backslash anyway
_CHOICE = re.compile(r"^\(?([A-E])\)(?:\s*(.+))?$|^([A-E])$")
_PMOD = re.compile(
    r"\s*\(?\s*\\pmod\s*\{?\s*\d+\s*\}?\s*\)?\s*$|\s*\(\s*\\?(?:bmod|mod)\s*\{?\s*\d+\s*\}?\s*\)\s*$"
)
_EQUIV = re.compile(r"\\equiv(?![A-Za-z])")
VARIABLE = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?")
_ASSIGNMENT = re.compile(rf"^{VARIABLE.pattern}\s*=\s*(?=\S)")
_UNKNOWN = re.compile(
    rf"{VARIABLE.pattern}|\\(?:alpha|beta|gamma|theta|phi|varphi|lambda|mu|omega)(?![A-Za-z])"
)
_RELATION = re.compile(r"\\(?:leq?(?:slant)?|geq?(?:slant)?)(?![A-Za-z])|<=|>=|<|>")


@lru_cache(maxsize=8)
def _command_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(names, key=len, reverse=True))
    return re.compile(rf"\\(?:{alternatives})(?![A-Za-z])\s*")


def unwrap_commands(text: str, names: Iterable[str] = UNWRAP_COMMANDS) -> str:
    """Replace `\\name{content}` by `content` for each name, nested ones included."""
    pattern = _command_pattern(tuple(names))
    # Each pass removes the outermost wrappers; their content may hold more, hence the passes.
    for _ in range(16):
        pieces: list[str] = []
        pos = 0
        for match in pattern.finditer(text):
            if match.start() < pos:
                continue  # inside a wrapper this pass already unwrapped
            brace = match.end()
            if text.startswith("{", brace):
                close = group_end(text, brace)
                if close is None:
                    continue
                pieces += [text[pos : match.start()], text[brace + 1 : close]]
                pos = close + 1
            else:  # `\\displaystyle 5`, `\\text 5`: drop the command alone
                pieces.append(text[pos : match.start()])
                pos = match.end()
        if not pieces:
            break
        pieces.append(text[pos:])
        text = "".join(pieces)
    return text


def strip_math_delimiters(text: str) -> str:
    """Drop `$`, `\\$`, and a surrounding `\\( \\)` or `\\[ \\]`."""
    text = _DOLLARS.sub("", text).strip()
    for left, right in ((r"\(", r"\)"), (r"\[", r"\]")):
        if text.startswith(left) and text.endswith(right):
            text = text[len(left) : -len(right)].strip()
    return text


def merge_latex_thousands(text: str) -> str:
    """`1{,}000`, `1\\,000`, `1\\!,\\!000` → `1000` when every group after the first has three digits."""
    return _LATEX_THOUSANDS.sub(lambda m: _SEP_ONLY.sub("", m.group()), text)


def strip_outer_braces(text: str) -> str:
    """`{{x}}` → `x`, only where the outer braces enclose the whole string."""
    while text.startswith("{") and group_end(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def tidy_spaces(text: str) -> str:
    """Collapse whitespace; drop it around operators, brackets and before commands (keeps `\\pi r`)."""
    text = _AROUND_OPERATORS.sub(r"\1", _SPACES.sub(" ", text))
    return _BEFORE_COMMAND.sub("", text).strip()


def clean(text: str) -> str:
    """The cleaning every candidate goes through before it is read as a number or compared."""
    text = text.translate(_UNICODE).strip()
    text = strip_math_delimiters(text)
    text = unwrap_commands(text)
    text = _DROP.sub("", text)
    text = _RENAME.sub(lambda m: r"\binom" if m.group().endswith("binom") else r"\frac", text)
    text = _DEGREES.sub("", text)
    text = _PERCENT.sub("", text)
    text = merge_latex_thousands(text)
    text = _SPACING.sub(lambda m: m.group() if m.group() == "\\\\" else " ", text)
    text = _SPACES.sub(" ", text).strip()
    text = text.rstrip(".,;: ").strip()
    text = strip_outer_braces(text)
    return tidy_spaces(text)


def split_choice(text: str) -> tuple[str | None, str]:
    """`(B) 42` → ("B", "42"); `(B)` → ("B", "B"); anything else → (None, text)."""
    match = _CHOICE.match(text)
    if not match:
        return None, text
    letter = match.group(1) or match.group(3)
    return letter, (match.group(2) or letter).strip()


def strip_congruence(text: str) -> str:
    """`x \\equiv 3 \\pmod{7}` → `3`; `3 (\\mod 7)` → `3`. A bare `a \\bmod n` is arithmetic, not this."""
    stripped = _PMOD.sub("", text)
    if stripped != text or text.lstrip().startswith(r"\equiv"):
        parts = _EQUIV.split(stripped)
        stripped = parts[-1].strip()
    return stripped


def strip_assignment(text: str) -> str:
    """`x = 3` → `3`, `a_1 = 5` → `5`: a single variable on the left, and no other `=` (`a=1,b=2` stays)."""
    match = _ASSIGNMENT.match(text)
    if match is None or "=" in text[match.end() :]:
        return text
    return text[match.end() :]


def inequality_to_interval(text: str) -> str:
    """`1 \\le x \\le 4` → `[1,4]`, `x>2` → `(2,\\infty)`, `5 \\ge x > 1` → `(1,5]`: one variable, bounded by
    expressions, in interval notation; anything else unchanged."""
    parts = _RELATION.split(text)
    relations = _RELATION.findall(text)
    if not 1 <= len(relations) <= 2 or not all(part.strip() for part in parts):
        return text
    less = [not (r.startswith(">") or r.startswith("\\g")) for r in relations]
    closed = [r.startswith("\\") or r.endswith("=") for r in relations]
    if len(set(less)) != 1:
        return text
    sides = [part.strip() for part in parts]
    if not less[0]:  # read `a \ge x \ge b` as `b \le x \le a`
        sides, closed = sides[::-1], closed[::-1]
    if len(sides) == 2:
        if _UNKNOWN.fullmatch(sides[0]):
            sides, closed = ["-\\infty", *sides], [False, *closed]
        elif _UNKNOWN.fullmatch(sides[1]):
            sides, closed = [*sides, "\\infty"], [*closed, False]
        else:
            return text
    if not _UNKNOWN.fullmatch(sides[1]) or any(_UNKNOWN.fullmatch(side) for side in (sides[0], sides[2])):
        return text
    left, right = "[" if closed[0] else "(", "]" if closed[1] else ")"
    return f"{left}{sides[0]},{sides[2]}{right}"
