"""Extraction details the case file does not show well: spans, sources, configs, policies."""

from __future__ import annotations

import pytest

from aimo.answers import (
    AnswerPolicy,
    BoldTarget,
    BoxedTarget,
    ExtractionConfig,
    PhraseTarget,
    extract,
    extract_output,
    normalize,
)
from aimo.bench.answers import ANSWERS, KINDS, synthetic_output


def test_span_and_source_point_at_the_box() -> None:
    text = r"so we get \boxed{\frac{a}{b}} here"
    found = extract(text, ExtractionConfig(mode="math"))
    assert found is not None and found.source == "boxed"
    assert text[found.start : found.end] == r"\boxed{\frac{a}{b}}"
    assert found.raw == r"\frac{a}{b}"


def test_targets_are_tried_in_the_configured_order() -> None:
    text = "Final answer: 7\nand then \\boxed{8}"
    assert extract(text).answer == "8"
    phrase_first = ExtractionConfig(targets=(PhraseTarget(), BoxedTarget()))
    assert extract(text, phrase_first).answer == "7"
    assert extract(text, ExtractionConfig(targets=(BoldTarget(),))) is None


def test_custom_box_command_and_phrases() -> None:
    config = ExtractionConfig(targets=(BoxedTarget(commands=("answer",)), PhraseTarget(phrases=("result",))))
    assert extract(r"\answer{12}", config).answer == "12"
    assert extract("The result is 13.", config).answer == "13"
    assert extract(r"\boxed{12}", config) is None


def test_think_end_can_be_disabled() -> None:
    text = r"<think>\boxed{1}</think> so the answer is \boxed{2} wait no: the final answer is 3"
    assert extract(text).answer == "2"
    assert extract(text, ExtractionConfig(think_end=None)).answer == "2"


def test_policy_result_on_the_extraction() -> None:
    found = extract(r"\boxed{1234}", ExtractionConfig(policy=AnswerPolicy.aime()))
    assert found is not None
    assert (found.answer, found.integer, found.out_of_range, found.valid) == ("1234", 1234, True, False)
    found = extract(r"\boxed{41.5}", ExtractionConfig(policy=AnswerPolicy.aime()))
    assert found is not None and found.integer is None and not found.valid and found.policy is None


def test_output_extraction_reports_the_line() -> None:
    found = extract_output("computing...\nanswer = 42\n")
    assert found is not None and found.source == "output" and found.raw == "answer = 42"


def test_normalized_kinds() -> None:
    assert normalize("42").kind == "integer"
    assert normalize("41.5").kind == "number"
    assert normalize("(C)").kind == "choice"
    assert normalize(r"\text{Monday}").kind == "text"
    assert normalize("x+1").kind == "expression"
    assert normalize("  ").kind == "empty"


@pytest.mark.parametrize("kind", list(KINDS))
def test_large_outputs_are_handled(kind: str) -> None:
    # Correctness at size; the time it takes is measured by `aimo bench answers`, not asserted.
    text = synthetic_output(kind, 200_000)
    found = extract(text)
    assert (found.answer if found else None) == ANSWERS.get(kind)


def test_deeply_nested_braces_do_not_recurse() -> None:
    text = r"\boxed{" + "{" * 50_000 + "1" + "}" * 50_000 + "}"
    found = extract(text)
    assert found is not None and found.normalized.integer is None  # too long to read, but found
