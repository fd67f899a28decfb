"""Metrics: pass@k, maj@k, intervals, spread and the summary of a run, on hand-made data."""

from __future__ import annotations

import math
import statistics
from itertools import combinations, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimo.evaluate import metrics
from aimo.evaluate.metrics import (
    ProblemView,
    SampleView,
    bootstrap_ci,
    estimate,
    ks_for,
    maj_at_k,
    metric_by_name,
    paired_bootstrap,
    pass_at_k,
    spread,
    summarize,
    vote_credit,
)

answers = st.lists(st.sampled_from(["1", "2", "3", None]), min_size=1, max_size=9)


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    right = [i < c for i in range(n)]
    subsets = list(combinations(range(n), k))
    return sum(any(right[i] for i in s) for s in subsets) / len(subsets)


@given(st.integers(1, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_is_the_chance_that_some_of_k_samples_is_right(nck):
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k))


@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_pass_at_k_grows_with_k_from_c_over_n(nc):
    n, c = nc
    values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
    assert values[0] == pytest.approx(c / n)
    assert all(a <= b + 1e-12 for a, b in pairwise(values))
    assert values[-1] == (1.0 if c else 0.0)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 2, 5)


def test_vote_credit_splits_ties_and_ignores_no_answer():
    assert vote_credit(["1", "1", "2"], {"1": True}) == 1.0
    assert vote_credit(["1", "2"], {"1": True}) == 0.5
    assert vote_credit([None, None, "2"], {"2": True}) == 1.0
    assert vote_credit([None, None], {}) == 0.0


def test_maj_at_k_exact_on_a_small_case():
    keys, correct = ["a", "a", "b"], {"a": True, "b": False}
    assert maj_at_k(keys, correct, 1) == pytest.approx(2 / 3)
    # {a,a} → 1; {a,b} twice → a tie, 1/2 each
    assert maj_at_k(keys, correct, 2) == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert maj_at_k(keys, correct, 3) == 1.0


@given(answers, st.sampled_from(["1", "2", "3"]))
def test_maj_at_1_is_pass_at_1(keys, right):
    correct = {right: True}
    c = sum(k == right for k in keys)
    assert maj_at_k(keys, correct, 1) == pytest.approx(pass_at_k(len(keys), c, 1))


@settings(max_examples=30)
@given(answers, st.sampled_from(["1", "2", "3"]), st.integers(1, 9))
def test_sampled_maj_at_k_is_close_to_exact(keys, right, k):
    k = min(k, len(keys))
    correct = {right: True}
    exact = maj_at_k(keys, correct, k, max_subsets=10**6)
    sampled = maj_at_k(keys, correct, k, max_subsets=1, seed=3) if math.comb(len(keys), k) > 1 else exact
    assert 0.0 <= sampled <= 1.0
    assert maj_at_k(keys, correct, k, max_subsets=400, seed=1) == pytest.approx(exact, abs=0.12)


def test_maj_at_k_is_seeded():
    keys = ["1", "2", "1", "3", "2", "1", "1", "2", "3", "1", "2", "1"] * 2
    a = maj_at_k(keys, {"1": True}, 8, max_subsets=50, seed=7)
    assert a == maj_at_k(keys, {"1": True}, 8, max_subsets=50, seed=7)


def test_ks_for_powers_of_two_and_n():
    assert ks_for(1) == (1,)
    assert ks_for(8) == (1, 2, 4, 8)
    assert ks_for(12) == (1, 2, 4, 8, 12)


@given(st.lists(st.floats(0, 1), min_size=2, max_size=40), st.integers(0, 5))
@settings(max_examples=30)
def test_bootstrap_interval_is_seeded_and_holds_the_mean(values, seed):
    low, high = bootstrap_ci(values, seed=seed, rounds=300)
    assert (low, high) == bootstrap_ci(values, seed=seed, rounds=300)
    mean = statistics.fmean(values)
    assert min(values) - 1e-9 <= low <= high <= max(values) + 1e-9
    assert low - 0.35 <= mean <= high + 0.35


def test_bootstrap_of_nothing_or_constants():
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)


def test_paired_bootstrap_of_the_same_values_is_zero():
    diff, (low, high) = paired_bootstrap([1, 0, 1, 1], [1, 0, 1, 1])
    assert diff == low == high == 0.0
    diff, (low, high) = paired_bootstrap([0, 0, 0, 1], [1, 1, 0, 1])
    assert diff == 0.5 and low <= 0.5 <= high
    with pytest.raises(ValueError):
        paired_bootstrap([1], [1, 2])


def test_spread_across_repeats():
    s = spread([0.8, 0.9, 1.0])
    assert (s.mean, s.min, s.max, s.n) == (pytest.approx(0.9), 0.8, 1.0, 3)
    assert s.std == pytest.approx(0.1)
    assert spread([0.5]).std == 0.0


def test_estimate_averages_repeats_and_resamples_problems():
    e = estimate({0: {"a": 1.0, "b": 0.0}, 1: {"a": 1.0, "b": 1.0}})
    assert e is not None
    assert e.value == pytest.approx(0.75)
    assert e.problems == 2
    assert e.repeats is not None and (e.repeats.min, e.repeats.max) == (0.5, 1.0)
    assert estimate({}) is None


def view(
    pid: str, repeat: int, correct: bool | None, keys: list[str | None], gold: str | None = "1"
) -> ProblemView:
    samples = tuple(
        SampleView(key=k, correct=None if gold is None else k == gold, tokens=100 * (i + 1), code_calls=i % 2)
        for i, k in enumerate(keys)
    )
    return ProblemView(pid, repeat, correct, seconds=2.0, samples=samples)


def test_summarize_a_run():
    views = [
        view("p1", 0, True, ["1", "1", "2", "1"]),
        view("p2", 0, False, ["2", "2", "1", None]),
        view("p1", 1, True, ["1", "1", "1", "1"]),
        view("p2", 1, True, ["1", "2", "1", "3"]),
        view("p3", 0, None, ["5", "5", "5", "5"], gold=None),  # no gold: only costs count
    ]
    s = summarize(views)
    m = s.metrics
    assert s.ks == (1, 2, 4) and s.repeats == 2 and s.problems == 3
    assert m["accuracy"].value == pytest.approx((0.5 + 1.0) / 2)
    assert m["pass@1"].value == pytest.approx(((3 / 4 + 1 / 4) / 2 + (1 + 2 / 4) / 2) / 2)
    assert m["pass@4"].value == 1.0
    assert "maj@1" not in m and "maj@4" in m
    assert m["no-answer rate"].problems == 3
    assert m["tokens/problem"].value == pytest.approx(1000.0)
    assert m["code calls/sample"].value == pytest.approx(0.5)
    assert m["accuracy"].repeats is not None and m["accuracy"].repeats.std > 0


def test_unfinished_samples_have_no_say():
    done = SampleView("1", True, 100)
    cancelled = SampleView(None, False, 50, finished=False)
    s = summarize([ProblemView("p", 0, True, 1.0, (done, cancelled))])
    assert s.metrics["pass@1"].value == 1.0
    assert s.metrics["no-answer rate"].value == 0.0
    assert s.metrics["tokens/problem"].value == 150.0


def test_metric_by_name():
    p = view("p", 0, True, ["1", "2", "1", "2"])
    assert metric_by_name("accuracy")(p) == 1.0
    assert metric_by_name("pass@1")(p) == 0.5
    assert metric_by_name("maj@2")(p) == pytest.approx((1 + 0 + 0.5 * 4) / 6)
    assert metric_by_name("tokens/problem")(p) == 1000.0
    with pytest.raises(ValueError, match="unknown metric"):
        metric_by_name("speed")


def test_every_metric_named_as_lower_is_better_or_neither_is_a_real_metric():
    names = set(metrics.problem_metrics(()))
    assert names.issuperset(metrics._LOWER_IS_BETTER) and names.issuperset(metrics._NEITHER)
    assert metrics.better_direction("tokens/problem") == -1 and metrics.better_direction("maj@8") == 1
