"""`aimo bench answers`: extraction throughput at growing output sizes, the time grading takes on
hostile expressions (the bound), and agreement with a recorded harness's grading (`--traces`, e.g.
Qwen2.5-Math's `math_cot_100.jsonl`)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimo.answers import ExtractionConfig, MathVerifier, canonical, extract, grade, grade_result, resolve_mode
from aimo.answers.normalize import clear_cache
from aimo.bench.result import BenchResult

DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)


def _reasoning(rng: random.Random) -> str:
    a, b = rng.randint(2, 999), rng.randint(2, 999)
    return (
        f"We have $\\frac{{{a}}}{{{b}}} + \\sqrt{{{a * b}}}$, so {{the sum}} is {a + b}. "
        f"Checking **case {a % 7}**: $x^{{{a % 9}}} = {b}$ gives {{{{{a}}}}} and {a * b}.\n"
    )


def _adversarial(rng: random.Random) -> str:
    # Open boxes that never close, phrases followed by prose, stray braces and bold markers: the
    # inputs on which a backtracking regex or a per-box forward scan goes quadratic.
    n = rng.randint(2, 10**9)
    return f"\\boxed{{ {n} {{ the answer is not {n}, **maybe** {{ final answer: see above ** \\fbox{{\n"


def _phrase_noise(rng: random.Random) -> str:
    # Answer phrases, reductions and fences followed by prose: every finder starts and gives up.
    n = rng.randint(2, 999)
    return (
        f"the answer to the problem would be therefore unclear; the remainder when {n} is divided by"
        f" a prime is unknown, and modulo {n} we get nothing, so the last three digits are open.\n"
        f"#### see below ```output\n{n}\n"
    )


def _code_round(rng: random.Random) -> str:
    a = rng.randint(2, 999)
    return f"Let me check.\n```python\nprint([{a}, {a + 1}])\n```\n```output\n[{a}, {a + 1}]\n```\n"


def _final_box(rng: random.Random) -> str:
    return "Therefore the final answer is $\\boxed{\\frac{12}{3}}$."


def _final_output(rng: random.Random) -> str:
    return "```python\nprint(12 // 3)\n```\n```output\n4\n```\n"


KINDS: dict[str, tuple[Callable[[random.Random], str], Callable[[random.Random], str] | None]] = {
    "final_box": (_reasoning, _final_box),
    "final_output": (_code_round, _final_output),
    "no_answer": (_reasoning, None),
    "adversarial": (_adversarial, None),
    "phrase_noise": (_phrase_noise, None),
}
ANSWERS = {"final_box": "4", "final_output": "4"}  # what each kind's output answers (others: nothing)

# Inputs on which an unbounded grader hangs: huge floors and expansions, towers, symbolic powers.
HOSTILE = (
    r"\lfloor (\sqrt{2}+1)^{4000} \rfloor",
    r"(\sqrt2+\sqrt3+\sqrt5+\sqrt7+\sqrt{11}+\sqrt{13})^{16}",
    r"9^{9^{9^{9}}}",
    r"\frac{1}{(10^{10})!}",
    r"(x+1)^{100000}",
    r"((((2^{16})^{16})^{16})^{16})^{16}",
)


def synthetic_output(kind: str, n_chars: int, seed: int = 0) -> str:
    """A model-like output of about `n_chars` characters of one kind (see `KINDS`)."""
    body, ending = KINDS[kind]
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < n_chars:
        parts.append(body(rng))
        size += len(parts[-1])
    text = "".join(parts)[:n_chars]
    return text + ending(rng) if ending else text


def time_extraction(text: str, config: ExtractionConfig, repeats: int) -> float:
    """Best-of-`repeats` seconds for one `extract` call."""
    best = float("inf")
    for _ in range(repeats):
        clear_cache()  # every candidate is read afresh, as in a real run
        start = time.perf_counter()
        extract(text, config)
        best = min(best, time.perf_counter() - start)
    return best


@dataclass
class TraceAgreement:
    """How our extraction and grading agree with a recorded harness's `pred` and `score`."""

    samples: int
    pred_same: int  # our canonical pred equals the canonical of theirs
    pred_equivalent: int  # ... or grades as equal to theirs in math mode
    score_same: int  # our correctness equals their `score`
    ours_correct: int
    theirs_correct: int
    disagreements: list[dict[str, Any]] = field(default_factory=list)


def trace_agreement(path: Path) -> TraceAgreement:
    """Compare with rows holding `gt`, `code` (or `response`) samples, `pred` and `score` lists."""
    agreement = TraceAgreement(0, 0, 0, 0, 0, 0)
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gold = str(row["gt"])
        mode = resolve_mode(gold)
        config = ExtractionConfig(mode=mode)
        samples = row.get("code") or row["response"]
        for index, (text, their_pred, their_score) in enumerate(
            zip(samples, row["pred"], row["score"], strict=True)
        ):
            found = extract(text, config)
            pred = found.answer if found else None
            correct = grade_result(pred, gold, mode).correct
            same = pred == canonical(str(their_pred))
            equivalent = same or (pred is not None and grade(pred, str(their_pred), "math"))
            agreement.samples += 1
            agreement.pred_same += same
            agreement.pred_equivalent += equivalent
            agreement.score_same += correct == bool(their_score)
            agreement.ours_correct += correct
            agreement.theirs_correct += bool(their_score)
            if not equivalent or correct != bool(their_score):
                agreement.disagreements.append(
                    {
                        "idx": row.get("idx"),
                        "sample": index,
                        "gold": gold,
                        "their_pred": their_pred,
                        "their_score": their_score,
                        "our_pred": pred,
                        "our_correct": correct,
                        "our_raw": found.raw if found else None,
                    }
                )
    return agreement


def time_hostile_grading(
    expressions: Sequence[str] = HOSTILE, timeout_s: float = 2.0
) -> list[tuple[str, float, bool]]:
    """(expression, seconds, verdict) of grading each hostile expression against a polynomial gold,
    with Math-Verify's deadline at `timeout_s` (its child starts before the clock does)."""
    verifier = MathVerifier(timeout_s=timeout_s)
    try:
        verifier.equivalent("1", "1")
        timings = []
        for expression in expressions:
            clear_cache()
            start = time.perf_counter()
            verdict = grade_result(expression, "x^2+1", "math", verifier=verifier).correct
            timings.append((expression, time.perf_counter() - start, verdict))
        return timings
    finally:
        verifier.close()


def bench_answers(
    sizes: Sequence[int] = DEFAULT_SIZES,
    repeats: int = 3,
    traces: Path | None = None,
    grading_timeout_s: float | None = 2.0,
) -> BenchResult:
    """Time `extract` on each kind of synthetic output at each size, and grading on hostile
    expressions (unless `grading_timeout_s` is None); optionally compare with traces."""
    config = ExtractionConfig()
    result = BenchResult(
        name="answers",
        settings={
            "sizes": list(sizes),
            "repeats": repeats,
            "mode": "integer",
            "grading_timeout_s": grading_timeout_s,
        },
    )
    for kind in KINDS:
        throughput: dict[int, float] = {}
        for size in sizes:
            text = synthetic_output(kind, size)
            seconds = time_extraction(text, config, repeats)
            throughput[size] = len(text) / seconds
            result.rows.append(
                {"kind": kind, "chars": len(text), "ms": seconds * 1000, "chars_per_s": throughput[size]}
            )
        # Linear time keeps chars/s flat: this ratio stays near 1; quadratic would sink it to ~0.
        result.ratios[f"{kind}_throughput_{max(sizes)}_vs_{min(sizes)}"] = (
            throughput[max(sizes)] / throughput[min(sizes)]
        )
    result.notes.append(
        "throughput ratios: ~1 means linear time (above 1 where a fixed per-answer cost dominates the"
        " small size); a quadratic scan would give ~0.01 over a 100x size range"
    )
    if grading_timeout_s is not None:
        timings = time_hostile_grading(HOSTILE, grading_timeout_s)
        for expression, seconds, _ in timings:
            result.rows.append(
                {
                    "kind": "grade_hostile",
                    "chars": len(expression),
                    "ms": seconds * 1000,
                    "chars_per_s": len(expression) / seconds,
                }
            )
        # The bound: Math-Verify's deadline plus the bounded in-process part; held when this is ~1.
        result.ratios["grading_worst_vs_timeout"] = max(s for _, s, _ in timings) / grading_timeout_s
        if any(verdict for _, _, verdict in timings):
            result.notes.append("a hostile expression graded as equal to x^2+1: a grading bug")
    if traces is not None:
        _add_traces(result, traces)
    return result


def _add_traces(result: BenchResult, path: Path) -> None:
    if not path.exists():
        result.notes.append(f"traces skipped: {path} not found (see ../shared/data/README.md)")
        return
    agreement = trace_agreement(path)
    n = agreement.samples or 1
    result.settings["traces"] = str(path)
    result.ratios.update(
        {
            "traces_pred_same": agreement.pred_same / n,
            "traces_pred_equivalent": agreement.pred_equivalent / n,
            "traces_score_agreement": agreement.score_same / n,
            "traces_accuracy_ours": agreement.ours_correct / n,
            "traces_accuracy_theirs": agreement.theirs_correct / n,
        }
    )
    result.notes.append(f"traces: {agreement.samples} samples, {len(agreement.disagreements)} disagreements")
    result.notes.extend(json.dumps(d, ensure_ascii=False) for d in agreement.disagreements[:20])
