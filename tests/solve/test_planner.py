"""The planner's pure logic: throughput curves and their measurement, token needs, sample decisions."""

from __future__ import annotations

import asyncio
import json

import pytest

from aimo.engines.base import Chunk, GenerationRequest
from aimo.engines.throughput import ThroughputCurve, ThroughputMeter
from aimo.solve import measurements
from aimo.solve.planner import CAP_SAFETY, Planner, Start, TokenModel

CPU_LIKE = ThroughputCurve({1: 25.0, 2: 29.0, 4: 32.0, 8: 30.0, 16: 49.0})
GPU_LIKE = ThroughputCurve({1: 80.0, 8: 600.0, 64: 3000.0})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TickingEngine:
    """Emits `tokens` one-token chunks, advancing a fake clock by `step` seconds before each."""

    name = "ticking"

    def __init__(self, clock: FakeClock, step: float, tokens: int) -> None:
        self.clock, self.step, self.tokens = clock, step, tokens

    async def stream(self, request: GenerationRequest):
        for i in range(self.tokens):
            self.clock.now += self.step
            await asyncio.sleep(0)
            yield Chunk(text="x", tokens=1, finish_reason="stop" if i == self.tokens - 1 else None)

    async def aclose(self) -> None:
        pass


def planner(curve: ThroughputCurve | None, tokens: list[int], max_samples: int = 8, **kw) -> Planner:
    meter = ThroughputMeter(TickingEngine(FakeClock(), 0, 0), prior=curve)
    return Planner(meter, TokenModel(observed=tokens), max_samples=max_samples, max_tokens=2048, **kw)


def test_curve_interpolates_and_is_pessimistic_outside_its_levels():
    assert CPU_LIKE.total(3) == pytest.approx(30.5)
    assert CPU_LIKE.total(32) == 49.0  # flat past the largest level
    assert CPU_LIKE.per_stream(4) == 8.0
    below = ThroughputCurve({4: 40.0})
    assert below.total(1) == 10.0  # below the smallest level: that level's per-stream speed


def test_curve_reads_a_bench_engine_result(tmp_path):
    path = tmp_path / "engine.json"
    path.write_text(
        json.dumps({"rows": [{"concurrency": 1, "tok/s": 20.0}, {"concurrency": 8, "tok/s": 90.0}]})
    )
    assert ThroughputCurve.from_bench(path).points == {1: 20.0, 8: 90.0}
    path.write_text("{}")
    with pytest.raises(ValueError, match="not an `aimo bench engine --json` result"):
        ThroughputCurve.from_bench(path)


def test_meter_credits_time_and_tokens_to_the_number_of_open_streams():
    clock = FakeClock()
    meter = ThroughputMeter(TickingEngine(clock, step=0.1, tokens=40), clock=clock)

    async def drain() -> None:
        async for _ in meter.stream(GenerationRequest(prompt="p")):
            pass

    async def go() -> None:
        await drain()  # alone: 40 tokens in 4 s
        await asyncio.gather(drain(), drain())  # two at once share the clock

    asyncio.run(go())
    measured = meter.measured(min_seconds=0.0)
    assert measured[1] == pytest.approx(10.0, rel=0.05)
    assert measured[2] == pytest.approx(10.0, rel=0.05)  # each tick advances the shared clock
    assert meter._open == 0


def test_meter_rescales_its_prior_to_agree_with_what_it_measured():
    meter = ThroughputMeter(TickingEngine(FakeClock(), 0, 0), prior=CPU_LIKE)
    from aimo.engines.throughput import _Level

    meter.levels = {1: _Level(seconds=10.0, tokens=125)}  # measured 12.5 tok/s: half the prior
    curve = meter.curve()
    assert curve.total(1) == pytest.approx(12.5)
    assert curve.total(4) == pytest.approx(16.0)


def test_token_model_mixes_the_prior_until_enough_samples_are_in():
    model = TokenModel(prior=[1000])
    assert model.quantile(0.5, default=5) == 1000
    model.observed = [200, 200]
    assert model.quantile(0.5, default=5) == pytest.approx(200 * 0.25 + 1000 * 0.75)
    model.observed = [200] * 8
    assert model.quantile(0.5, default=5) == 200
    assert TokenModel().quantile(0.5, default=7) == 7


def test_planner_starts_one_sample_when_only_one_fits():
    plan = planner(CPU_LIKE, [400] * 10).first(target_s=20.0, deadline_s=60.0)
    assert plan.samples == 1
    # The cap is what one stream can generate before the deadline (25 tok/s), at most max_tokens.
    assert plan.max_tokens == int(CAP_SAFETY * (60.0 - 0.5) * 25.0)


def test_planner_starts_many_samples_on_a_fast_batching_engine():
    plan = planner(GPU_LIKE, [400] * 10).first(target_s=60.0, deadline_s=180.0)
    assert plan.samples == 8 and plan.max_tokens == 2048


def test_planner_never_starts_two_when_the_greedy_sample_breaks_ties():
    # 400 tokens at 14.5 tok/s each for two streams fits 30 s; three at 10.2 tok/s do not.
    assert planner(CPU_LIKE, [400] * 10, greedy_first=False).first(30.0, 90.0).samples == 2
    assert planner(CPU_LIKE, [400] * 10, greedy_first=True).first(30.0, 90.0).samples == 1


def test_planner_adds_only_as_many_samples_as_could_change_the_winner_and_only_if_they_fit():
    p = planner(CPU_LIKE, [300] * 10)
    assert p.more(running=0, started=1, target_left_s=60.0, deadline_left_s=90.0, wanted=2) == Start(
        2, int(CAP_SAFETY * (90.0 - 0.5) * 14.5)
    )
    assert p.more(running=0, started=1, target_left_s=15.0, deadline_left_s=90.0, wanted=2).samples == 0
    assert p.more(running=0, started=7, target_left_s=600.0, deadline_left_s=900.0, wanted=2).samples == 0


def test_planner_without_a_speed_starts_one_sample():
    assert planner(None, []).first(target_s=1000.0, deadline_s=1000.0).samples == 1


def test_measurements_round_trip_and_replay_is_never_stored(tmp_path):
    store = tmp_path / "m.json"
    measurements.save("llamacpp|m|cpu", CPU_LIKE, [100, 200], path=store)
    measurements.save("llamacpp|m|cpu", ThroughputCurve({32: 50.0}), [300], path=store)
    curve, tokens = measurements.load("llamacpp|m|cpu", path=store)
    assert curve.points[1] == 25.0 and curve.points[32] == 50.0 and tokens == [100, 200, 300]
    assert measurements.load("other", path=store) == (None, [])
    store.write_text("not json")
    assert measurements.load("llamacpp|m|cpu", path=store) == (None, [])

    class Replay:
        name = "replay"

    assert measurements.engine_key(Replay()) is None


def test_calibration_measures_levels_in_order_and_stops_at_its_time_limit():
    clock = FakeClock()
    meter = ThroughputMeter(TickingEngine(clock, step=0.1, tokens=24), clock=clock)
    asyncio.run(measurements.calibrate(meter, [1, 2, 4, 8], max_seconds=5.0))
    assert set(meter.measured(min_seconds=0.0)) == {1, 2}  # level 4 would have begun past 5 s
    assert measurements.calibration_levels(8) == [1, 2, 4, 8]
    assert measurements.calibration_levels(6) == [1, 2, 4, 6]
