"""Finding the final answer in a model's text or a program's output, in linear time.

Each finder scans forward once (regexes without nested quantifiers, one brace-matching pass) and
keeps the last hit, so a 1M-character output costs a few milliseconds and never backtracks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from aimo.answers.braces import balanced, match_braces
from aimo.answers.config import (
    BoldTarget,
    BoxedTarget,
    ExtractionConfig,
    FinalOutputTarget,
    LastNumberTarget,
    Mode,
    OutputConfig,
    PhraseTarget,
    ReductionTarget,
    Target,
)
from aimo.answers.normalize import Normalized, normalize
from aimo.answers.policy import AnswerPolicy, PolicyResult

Source = Literal["boxed", "phrase", "bold", "reduction", "final_output", "last_number", "output"]

# TeX's `\boxed 5` takes one token; a number or a lone letter, never a word (`\boxed to mark`).
_UNBRACED_BOX_ARG = re.compile(r"-?\d+(?:[.,]\d+)*|[A-Za-z](?![A-Za-z])")
_BOLD = re.compile(r"\*\*([^*\n]{1,200})\*\*")
_LAST_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SENTENCE_END = re.compile(r"\.(?=\s|\*|$)|\n")
_DELIMITERS = (("$$", "$$"), ("$", "$"), (r"\(", r"\)"), (r"\[", r"\]"))
_OUTPUT_LABEL = re.compile(r"^[A-Za-z_][\w ()]{0,40}?\s*[:=]\s*")
_OUTPUT_WRAPPER = re.compile(
    r"^(?:np\.|numpy\.|sympy\.|mpmath\.)?(?:u?int\d*|float\d*|Integer|Float|mpz|mpf)\(\s*'?([^()']*)'?\s*\)$"
)
_OUTPUT_RATIONAL = re.compile(r"^(?:Fraction|Rational|mpq)\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)$")
_NUMBER_LIKE = re.compile(r"[-+0-9.,/eE ^*(){}\\a-z]*\d[-+0-9.,/eE ^*(){}\\a-z]*")
_TRACEBACK = re.compile(r"^(?:Traceback\b|\w*(?:Error|Exception)\b:)", re.MULTILINE)
_PROSE_AFTER = re.compile(r"\s+[A-Za-z]{2,}\b")
_PROSE_WORD = re.compile(r"(?:^|\s)[A-Za-z]{2,}(?=\s|$|[.,;:!?])")  # `so`, `clearly`; not `\sin`
_PARENTHETICAL = re.compile(r"\s*\((?=[^)]*[A-Za-z]{2})[^()]*\)\s*$")  # `12 (twelve)`, `5 (mod 7 checked)`
# "the remainder when N is divided by 1000 is", "N mod 1000 =", "the last three digits are".
_REDUCTION = re.compile(
    r"(?i)\bremainder\b[^.\n]{0,160}(?:\bis|\bequals|=|:)"
    r"|(?:\bmod(?:ulo)?\b|\\[pb]?mod(?![A-Za-z]))\s*\{?\s*\$?\s*\d+\s*\$?\s*\}?\s*\)?\s*(?:\bis|\bequals|=|,\s*we\s+get|\bgives)"
    r"|\blast\s+(?:two|three|four|five|\d+)\s+digits\b[^.\n]{0,80}?(?:\bare|\bis|=|:)"
)
_REDUCTION_TAIL = re.compile(r"[\s$*]*((?:\\boxed\{)?-?\d[\d,]*)")


@dataclass(frozen=True)
class Extraction:
    """A final answer found in a text, with where it was and what it reads as.

    `answer` is the canonical string (see `normalize`); with a policy that reduces, the reduced
    integer. Out-of-range answers are kept, never clamped, and flagged by `out_of_range`.
    """

    raw: str
    answer: str
    source: Source
    start: int
    end: int
    normalized: Normalized
    policy: PolicyResult | None = None

    @property
    def integer(self) -> int | None:
        """The integer to submit (after the policy), or None when the answer is not an integer."""
        return self.policy.value if self.policy else self.normalized.integer

    @property
    def out_of_range(self) -> bool:
        return bool(self.policy and self.policy.out_of_range)

    @property
    def valid(self) -> bool:
        """An integer answer the policy (if any) accepts as is."""
        return self.integer is not None and (self.policy is None or self.policy.valid)


@dataclass(frozen=True)
class _Candidate:
    raw: str
    source: Source
    start: int
    end: int


def extract(text: str, config: ExtractionConfig | None = None) -> Extraction | None:
    """The final answer in a model's `text`, or None when the model never committed to one."""
    config = config or ExtractionConfig()
    regions = [0]
    if config.think_end:
        cut = text.rfind(config.think_end)
        if cut >= 0:
            regions.insert(0, cut + len(config.think_end))
    for start in regions:
        for target in config.targets:
            found = _find(target, text, start, config.mode)
            if found is not None:
                candidate, normalized = found
                return _finish(candidate, normalized, config.policy)
    return None


def extract_answer(text: str, config: ExtractionConfig | None = None) -> str | None:
    """The canonical final answer in a model's `text`, or None when it never committed to one."""
    found = extract(text, config)
    return found.answer if found else None


def extract_output(stdout: str, config: OutputConfig | None = None) -> Extraction | None:
    """The answer a program printed: a box if any, else the last line that is a number."""
    config = config or OutputConfig()
    if config.reject_traceback and _TRACEBACK.search(stdout):
        return None
    boxed = _find(BoxedTarget(), stdout, 0, config.mode)
    if boxed is not None:
        return _finish(*boxed, config.policy)
    end = len(stdout)
    for line in reversed(stdout.split("\n")):
        start = end - len(line)
        if line.strip():
            value = _output_number(line.strip(), config.labels)
            if value is not None:
                return _finish(_Candidate(line.strip(), "output", start, end), value, config.policy)
            if config.last_line_only:
                return None
        end = start - 1
    return None


def extract_from_output(stdout: str, config: OutputConfig | None = None) -> str | None:
    """The canonical answer a program printed (see `extract_output`), or None."""
    found = extract_output(stdout, config)
    return found.answer if found else None


def _finish(candidate: _Candidate, normalized: Normalized, policy: AnswerPolicy | None) -> Extraction:
    result = None
    answer = normalized.canonical
    if policy is not None and normalized.integer is not None:
        result = policy.apply(normalized.integer)
        answer = str(result.value)
    return Extraction(
        candidate.raw, answer, candidate.source, candidate.start, candidate.end, normalized, result
    )


def _find(target: Target, text: str, start: int, mode: Mode) -> tuple[_Candidate, Normalized] | None:
    if isinstance(target, BoxedTarget):
        boxed = _last_box(text, start, target.commands)
        return None if boxed is None else (boxed, normalize(boxed.raw))
    if isinstance(target, PhraseTarget):
        candidates: Iterator[_Candidate] = _phrases(text, start, target)
    elif isinstance(target, BoldTarget):
        candidates = _bold(text, start, target.keyword)
    elif isinstance(target, ReductionTarget):
        candidates = _reductions(text, max(start, len(text) - target.window))
    elif isinstance(target, FinalOutputTarget):
        candidates = _final_output(text, start, target.fence)
    elif isinstance(target, LastNumberTarget):
        candidates = _last_number(text, start)
    else:
        raise TypeError(f"unknown extraction target {target!r}")
    for candidate in candidates:
        normalized = normalize(candidate.raw)
        if _acceptable(normalized, mode):
            return candidate, normalized
    return None


def is_answer(raw: str, mode: Mode) -> bool:
    """Whether `raw` (the content of a box, a phrase's tail) reads as an answer in `mode`: a number
    in integer mode; in math mode also a short expression or a word, never prose like `The value of`."""
    return _acceptable(normalize(raw), mode)


def _acceptable(normalized: Normalized, mode: Mode) -> bool:
    """Whether an unboxed candidate reads as an answer: prose after "the answer is" often is not."""
    if normalized.kind in ("integer", "number", "choice"):
        return True
    if mode == "integer" or normalized.kind == "empty":
        return False
    if normalized.kind == "text":
        return " " not in normalized.canonical
    text = normalized.text
    return len(normalized.canonical) <= 100 and not _PROSE_WORD.search(text) and balanced(text)


@lru_cache(maxsize=16)
def _box_pattern(commands: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\\(?:" + "|".join(map(re.escape, commands)) + r")(?![A-Za-z])")


def _last_box(text: str, start: int, commands: tuple[str, ...]) -> _Candidate | None:
    """The last box with non-empty content; a box left open (truncated output) does not count."""
    matches = list(_box_pattern(commands).finditer(text, start))
    if not matches:
        return None
    pairs = match_braces(text, matches[0].end())
    for match in reversed(matches):
        pos = match.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == "{":
            close = pairs.get(pos)
            if close is not None and text[pos + 1 : close].strip():
                return _Candidate(text[pos + 1 : close], "boxed", match.start(), close + 1)
            continue
        arg = _UNBRACED_BOX_ARG.match(text, pos)
        if arg:
            return _Candidate(arg.group(), "boxed", match.start(), arg.end())
    return None


@lru_cache(maxsize=16)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(r"\s+".join(map(re.escape, p.split())) for p in phrases)
    # "answer is X", "answer to the problem is therefore X", "answer would be X", "Answer: X",
    # "**Answer:** X", a heading line ("**Final Answer**" / "## Final Answer") whose answer is on the
    # next line (GSM8K's "#### X" is `_GSM8K`, a separate scan: in this regex it costs 15x).
    verb = rf"(?:is|would\s+be|should\s+be|must\s+be|will\s+be)\b(?:,?\s+(?:{_ADVERBS})\b,?)?"
    return re.compile(
        rf"(?im)\b(?:{words})(?:\s+to\s+(?:the|this)\s+(?:problem|question))?"
        rf"(?:(?:\s*\*\*)?\s*(?:{verb}|:|=)\s*(?:\*\*)?|(?:\*\*)?[ \t]*$)"
    )


_ADVERBS = "therefore|thus|hence|then|simply|just|exactly|clearly|indeed|actually|finally|now"
# GSM8K's "#### 18": a number alone after the mark (`#### 1. Setup` is a markdown heading).
_GSM8K = re.compile(r"####(?=[ \t]*-?\$?\d[\d,.]*[ \t]*$)", re.MULTILINE)


def _phrases(text: str, start: int, target: PhraseTarget) -> Iterator[_Candidate]:
    matches = list(_phrase_pattern(target.phrases).finditer(text, start))
    marks = [
        m
        for m in _GSM8K.finditer(text, start)
        if not text[text.rfind("\n", 0, m.start()) + 1 : m.start()].strip()
    ]
    for match in sorted(matches + marks, key=lambda m: m.start(), reverse=True):
        tail_start = match.end()
        raw = _phrase_answer(text[tail_start : tail_start + target.max_chars])
        options = (raw, _first_clause(raw), _PARENTHETICAL.sub("", raw))
        for option in dict.fromkeys(options):
            if option:
                yield _Candidate(option, "phrase", match.start(), tail_start + len(option))


def _phrase_answer(tail: str) -> str:
    """The answer at the start of a phrase's tail: a math span (display math may span lines), else
    the first line up to the end of its sentence; a heading's answer is on the next non-empty line."""
    line = tail.split("\n", 1)[0].strip(" \t*:")
    body = tail.lstrip(" \t*:" if line else " \t\r\n*:")
    for left, right in _DELIMITERS:
        if body.startswith(left):
            close = body.find(right, len(left))
            if close > 0:
                return body[len(left) : close].strip()
            return body.split("\n", 1)[0][len(left) :]
    line = body.split("\n", 1)[0].strip(" \t*:")
    end = _SENTENCE_END.search(line)
    return (line[: end.start()] if end else line).strip(" *")


def _first_clause(text: str) -> str:
    """`5, since x > 2` → `5`: the text before a comma or semicolon (outside brackets) that prose follows.

    `1, 2, 3` stays whole: a list is not its first element.
    """
    depth = 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char in ",;" and depth == 0 and _PROSE_AFTER.match(text, index + 1):
            return text[:index]
    return text


def _bold(text: str, start: int, keyword: str) -> Iterator[_Candidate]:
    keyword = keyword.lower()
    end = len(text)
    while end > start:
        line_start = max(text.rfind("\n", start, end) + 1, start)
        line = text[line_start:end]
        if "**" in line and keyword in line.lower():
            for match in reversed(list(_BOLD.finditer(line))):
                if keyword not in match.group(1).lower():
                    yield _Candidate(
                        match.group(1), "bold", line_start + match.start(), line_start + match.end()
                    )
        end = line_start - 1


def _reductions(text: str, start: int) -> Iterator[_Candidate]:
    for match in reversed(list(_REDUCTION.finditer(text, start))):
        number = _REDUCTION_TAIL.match(text, match.end())
        if number:
            raw = number.group(1).removeprefix("\\boxed{")
            yield _Candidate(raw, "reduction", match.start(), number.end())


def _final_output(text: str, start: int, fence: str) -> Iterator[_Candidate]:
    """The one line of the output block the text ends with (closed, nothing after it)."""
    end = len(text.rstrip())
    opened = text.rfind(fence, start, end)
    if opened < 0 or not text.endswith("```", opened + len(fence), end):
        return
    body = text[opened + len(fence) : end - 3]
    lines = [line.strip() for line in body.split("\n") if line.strip()]
    if len(lines) == 1 and _output_number(lines[0], labels=True) is not None:
        yield _Candidate(lines[0], "final_output", opened, end)


def _last_number(text: str, start: int) -> Iterator[_Candidate]:
    last = None
    for last in _LAST_NUMBER.finditer(text, start):  # noqa: B007 - we want the final match
        pass
    if last is not None:
        yield _Candidate(last.group(), "last_number", last.start(), last.end())


def _output_number(line: str, labels: bool) -> Normalized | None:
    """A printed line read as a number: `42`, `41.0`, `3/4`, `np.int64(42)`, `answer = 42`."""
    if labels:
        line = _OUTPUT_LABEL.sub("", line, count=1)
    wrapped = _OUTPUT_WRAPPER.match(line)
    if wrapped:
        line = wrapped.group(1)
    rational = _OUTPUT_RATIONAL.match(line)
    if rational:
        line = f"{rational.group(1)}/{rational.group(2)}"
    if len(line) > 200 or not _NUMBER_LIKE.fullmatch(line):
        return None
    normalized = normalize(line)
    return normalized if normalized.kind in ("integer", "number") else None
