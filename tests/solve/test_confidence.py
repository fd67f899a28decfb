"""Token confidence, the streaming meter, DeepConf's gate, and the votes that read them."""

from __future__ import annotations

import math

import pytest

from aimo.solve.confidence import (
    ConfidenceGate,
    ConfidenceMeter,
    ProblemGate,
    first_below,
    percentile,
    summarize,
    token_confidence,
    token_entropy,
)
from aimo.solve.types import Sample
from aimo.solve.voting import VoteConfig, max_sample_weight, sample_weights, tally, winner

SURE = [-0.01, -6.0, -7.0]  # confidence 4.34
UNSURE = [-0.7, -0.8, -1.0]  # confidence 0.83


def test_token_confidence_and_entropy() -> None:
    assert token_confidence([-1.0, -3.0]) == pytest.approx(2.0)
    assert token_confidence([]) == 0.0
    assert token_entropy([0.0]) == 0.0
    assert token_entropy([math.log(0.5), math.log(0.5)]) == pytest.approx(math.log(2))
    # Renormalised over the top entries given.
    assert token_entropy([math.log(0.25), math.log(0.25)]) == pytest.approx(math.log(2))


def test_meter_lowest_group_finds_the_unsure_stretch_and_tail_sees_the_end() -> None:
    meter = ConfidenceMeter(window=4, tail=2)
    meter.add([SURE] * 10 + [UNSURE] * 4 + [SURE] * 10)
    summary = meter.summary()
    assert summary is not None and summary.tokens == 24
    assert summary.lowest_group == pytest.approx(token_confidence(UNSURE))
    assert summary.tail == pytest.approx(token_confidence(SURE))
    assert summary.mean == pytest.approx((20 * token_confidence(SURE) + 4 * token_confidence(UNSURE)) / 24)
    assert summary.bottom10 < summary.mean
    assert summary.tail_entropy < summary.mean_entropy


def test_short_trace_uses_its_mean_and_no_logprobs_no_summary() -> None:
    assert ConfidenceMeter().summary() is None
    short = summarize([SURE, UNSURE], window=8)
    assert short is not None and short.lowest_group == pytest.approx(short.mean)


def test_meter_keeps_series_rounded_only_when_asked() -> None:
    kept = ConfidenceMeter(keep_series=True)
    kept.add([[-0.123456, -2.0]])
    assert kept.series == [[-0.123, -2.0]]
    assert ConfidenceMeter().series is None


def test_gate_threshold_from_warmup_percentile_then_stops_low_groups() -> None:
    gate = ConfidenceGate(warmup=4, keep=50, window=2)
    meter = ConfidenceMeter(window=2, gate=gate)
    meter.add([UNSURE, UNSURE])
    assert not meter.below_gate()  # no threshold before the warm-up is in
    for lowest in (1.0, 2.0, 3.0, None, 4.0):
        gate.observe(lowest)
    assert gate.threshold == pytest.approx(percentile([1.0, 2.0, 3.0, 4.0], 50)) == pytest.approx(2.5)
    assert meter.below_gate()
    meter.add([SURE, SURE])
    assert not meter.below_gate()


def test_first_below_is_where_online_stopping_cuts_a_recorded_trace() -> None:
    trace = [SURE] * 5 + [UNSURE] * 5
    assert first_below(trace, threshold=2.0, window=2) == 7
    assert first_below(trace, threshold=0.5, window=2) is None


def test_gate_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        ConfidenceGate(warmup=0)
    with pytest.raises(ValueError):
        ConfidenceGate(keep=0)
    with pytest.raises(ValueError, match="first_window"):
        ConfidenceGate(warmup_on="halfway")  # type: ignore[arg-type]


def test_first_window_triage_warms_up_and_checks_on_first_windows_only() -> None:
    gate = ConfidenceGate(warmup=2, keep=50, window=2, warmup_on="first_window")
    problem = ProblemGate(gate, planned=3)
    sure, unsure = ConfidenceMeter(window=2, gate=problem), ConfidenceMeter(window=2, gate=problem)
    sure.add([SURE, SURE])
    assert not sure.below_gate() and gate.threshold is None  # its first window is half the warm-up
    unsure.add([UNSURE, UNSURE])
    assert unsure.below_gate()  # completes the warm-up, and is the less sure half
    assert gate.threshold == pytest.approx((token_confidence(SURE) + token_confidence(UNSURE)) / 2)
    sure.add([UNSURE, UNSURE])
    assert not sure.below_gate()  # a later unsure window is not checked: the triage is the first one
    assert gate.counts_at_end(1) and not gate.counts_at_end(2)  # shorter than a window: at its end
    assert ConfidenceGate(window=2).counts_at_end(2)  # DeepConf's warm-up: every finished sample


def _sample(answer: str, index: int, **fields: object) -> Sample:
    return Sample("p", index, "cot", answer=answer, **fields)  # type: ignore[arg-type]


def _conf(lowest: float, tail_entropy: float = 0.5) -> dict[str, float]:
    return {
        "lowest_group": lowest,
        "tail": lowest,
        "bottom10": lowest,
        "mean": lowest,
        "tail_entropy": tail_entropy,
    }


def test_confidence_weighted_vote_lets_two_sure_samples_beat_three_unsure() -> None:
    samples = [_sample("1", i, confidence=_conf(1.0)) for i in range(3)]
    samples += [_sample("2", 3 + i, confidence=_conf(10.0)) for i in range(2)]
    assert winner(tally(samples)) == "1"
    config = VoteConfig(confidence="lowest_group")
    assert winner(tally(samples, config=config)) == "2"
    assert max(sample_weights(samples, config=config)) <= max_sample_weight(config)


def test_keep_top_filters_the_least_confident_voters_out() -> None:
    samples = [_sample("1", i, confidence=_conf(1.0 + i / 10)) for i in range(3)]
    samples += [_sample("2", 3 + i, confidence=_conf(5.0)) for i in range(2)]
    weights = sample_weights(samples, config=VoteConfig(keep_top=40))
    assert weights == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_tail_entropy_weight_and_neutral_default_for_samples_without_it() -> None:
    samples = [_sample("1", 0, confidence=_conf(1.0, tail_entropy=0.1)), _sample("2", 1)]
    samples.append(_sample("3", 2, confidence=_conf(1.0, tail_entropy=2.0)))
    weights = sample_weights(samples, config=VoteConfig(tail_entropy=True, entropy_floor=0.2))
    assert weights[0] == pytest.approx(5.0) and weights[2] == pytest.approx(0.5)
    assert weights[1] == pytest.approx(2.75)  # the mean of the known ones


def test_reward_votes_weighted_and_best_of_n() -> None:
    samples = [_sample("1", 0, reward=-2.0), _sample("1", 1, reward=-2.0), _sample("2", 2, reward=3.0)]
    assert winner(tally(samples)) == "1"
    assert winner(tally(samples, config=VoteConfig(reward="weighted"))) == "2"
    assert sample_weights(samples, config=VoteConfig(reward="best")) == [0.0, 0.0, 1.0]
