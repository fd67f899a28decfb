"""Math-Verify behind a deadline: from threads, past a hang, and after its child is killed."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from aimo.answers import MathVerifier, grade_result


@pytest.fixture(scope="module")
def verifier() -> Iterator[MathVerifier]:
    v = MathVerifier(timeout_s=30.0)  # generous: a loaded CI machine must not turn a verdict into a timeout
    yield v
    v.close()


def test_equivalence_from_worker_threads(verifier: MathVerifier) -> None:
    # Math-Verify's own signal timeouts raise outside the main thread; ours must not.
    pairs = [("3+4i", "4i+3", True), ("(x+1)^2", "x^2+2x+1", True), ("[1,2)", "(1,2]", False)] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda p: grade_result(p[1], p[0], "math", verifier=verifier), pairs))
    assert [r.correct for r in results] == [p[2] for p in pairs]
    assert {r.method for r in results} == {"math_verify"}


def test_a_comparison_that_would_hang_is_cut_off_and_the_worker_restarts() -> None:
    # sympy does not finish this in any reasonable time; the deadline must end it.
    verifier = MathVerifier(timeout_s=1.0)
    assert verifier.equivalent(r"2^{2^{2^{2^{2^{2}}}}}", "3") is None
    result = grade_result("3", r"2^{2^{2^{2^{2^{2}}}}}", "math", verifier=verifier)
    assert not result.correct and result.method == "timeout"
    verifier.timeout_s = 30.0
    assert verifier.equivalent("x+1", "1+x") is True  # a fresh child took over
    verifier.close()


def test_worker_death_is_survived(verifier: MathVerifier) -> None:
    assert verifier.equivalent("2x", "x+x") is True
    verifier.close()
    assert verifier.equivalent("2y", "y+y") is True
