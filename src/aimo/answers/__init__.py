"""Final answers: extracting them from model text and program output, normalizing, grading.

    >>> from aimo.answers import extract_answer, grade, ExtractionConfig, AnswerPolicy
    >>> extract_answer(r"so the total is \\boxed{1{,}000}.")
    '1000'
    >>> grade("\\\\dfrac{1}{2}", "0.5", mode="math")
    True

This package imports nothing else of aimo.
"""

from aimo.answers.config import (
    TEXT_TARGETS,
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
from aimo.answers.extract import (
    Extraction,
    extract,
    extract_answer,
    extract_from_output,
    extract_output,
    is_answer,
)
from aimo.answers.grade import GradeMode, GradeResult, grade, grade_result, resolve_mode
from aimo.answers.math_equiv import MathVerifier
from aimo.answers.normalize import Normalized, canonical, normalize, to_integer
from aimo.answers.policy import AnswerPolicy, PolicyResult

__all__ = [
    "TEXT_TARGETS",
    "AnswerPolicy",
    "BoldTarget",
    "BoxedTarget",
    "Extraction",
    "ExtractionConfig",
    "FinalOutputTarget",
    "GradeMode",
    "GradeResult",
    "LastNumberTarget",
    "MathVerifier",
    "Mode",
    "Normalized",
    "OutputConfig",
    "PhraseTarget",
    "PolicyResult",
    "ReductionTarget",
    "Target",
    "canonical",
    "extract",
    "extract_answer",
    "extract_from_output",
    "extract_output",
    "grade",
    "grade_result",
    "is_answer",
    "normalize",
    "resolve_mode",
    "to_integer",
]
