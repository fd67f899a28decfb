"""`aimo bench engine`: the saturation rule, concurrency parsing, charts, a real run on the tiny model."""

from __future__ import annotations

import asyncio
import json
import math
import xml.etree.ElementTree as ET

import pytest
import typer

from aimo.bench.bars import terminal_bars
from aimo.bench.engine import (
    StreamTiming,
    bench_engine,
    gains,
    level_row,
    saturation_point,
)
from aimo.cli.bench_cmd import parse_concurrency
from aimo.engines.config import EngineConfig
from aimo.svg import Series, line_chart


def test_saturation_is_the_first_level_whose_doubling_gains_under_ten_percent():
    levels = [(1, 10.0), (2, 19.0), (4, 35.0), (8, 38.0), (16, 39.0)]
    assert saturation_point(levels) == 4  # 4 → 8 gains 8.6%


def test_no_saturation_while_throughput_keeps_growing():
    assert saturation_point([(1, 10.0), (2, 20.0), (4, 40.0)]) is None
    assert saturation_point([(8, 100.0)]) is None


def test_a_drop_in_throughput_is_saturation():
    assert saturation_point([(1, 10.0), (2, 12.0), (4, 9.0)]) == 2  # 1 → 2 gains 20%, 2 → 4 loses


def test_a_noisy_dip_is_not_saturation_when_throughput_grows_again():
    levels = [(1, 1.75), (2, 1.04), (4, 2.23), (8, 4.89)]  # measured on a busy machine
    assert saturation_point(levels) is None
    assert saturation_point([*levels, (16, 5.0)]) == 8


def test_steps_other_than_doubling_are_scaled_per_doubling():
    # x4 in one step with +21%: 10% per doubling (just at the line), +20%: under it.
    assert saturation_point([(1, 100.0), (4, 121.5)]) is None
    assert saturation_point([(1, 100.0), (4, 120.0)]) == 1
    assert saturation_point([(4, 40.0), (1, 10.0), (2, 20.0)]) is None  # order does not matter


def test_saturation_threshold_is_a_parameter_and_zero_throughput_is_handled():
    assert saturation_point([(1, 10.0), (2, 14.0)], min_gain=0.5) == 1
    assert saturation_point([(1, 0.0), (2, 0.0)]) == 1
    assert saturation_point([(1, 0.0), (2, 5.0), (4, 10.0)]) is None


def test_gains_are_ratios_to_the_previous_level():
    assert gains([(1, 10.0), (2, 15.0), (4, 0.0), (8, 3.0)]) == [None, 1.5, 0.0, None]


def test_level_row_counts_tokens_over_the_wall_clock():
    timings = [StreamTiming(0.5, 2.5, 41, "length"), StreamTiming(1.0, 3.0, 21, "stop")]
    row = level_row(2, timings, wall_s=4.0)
    assert row["concurrency"] == 2
    assert row["tok/s"] == pytest.approx(62 / 4.0)
    assert row["stream tok/s"] == pytest.approx((20.0 + 10.0) / 2)
    assert row["ttft p50 s"] == pytest.approx(0.75)
    assert row["tokens/stream"] == 31
    assert math.isnan(level_row(1, [StreamTiming(None, 1.0, 0, "stop")], 1.0)["ttft p50 s"])


def test_engine_config_fits_the_highest_concurrency():
    fitted = EngineConfig().fitted(concurrency=64, max_tokens=512)
    assert fitted.max_sequences == 64
    assert fitted.n_ctx >= 64 * 512
    small = EngineConfig(n_ctx=4096, max_sequences=16).fitted(concurrency=2, max_tokens=16)
    assert (small.n_ctx, small.max_sequences) == (4096, 16)  # never shrunk
    huge = EngineConfig().fitted(concurrency=64, max_tokens=32_768)
    assert huge.n_ctx == 131_072  # capped: the KV cache must fit in memory


def test_concurrency_accepts_spaces_commas_and_repeats():
    assert parse_concurrency(["1"], ["2", "4", "8"]) == [1, 2, 4, 8]
    assert parse_concurrency(["1,2", "4"], []) == [1, 2, 4]
    assert parse_concurrency(["8,1,1"], []) == [1, 8]
    for bad in (["0"], ["two"], [","]):
        with pytest.raises(typer.BadParameter):
            parse_concurrency(bad, [])


def test_charts_scale_to_the_largest_value():
    bars = terminal_bars(["c=1", "c=2"], [10.0, 20.0], width=10).splitlines()
    assert bars[1].count("█") == 10 and bars[0].count("█") == 5
    svg = line_chart(
        [Series("tok/s", [1, 2, 4], [1.0, 2.0, float("nan")])], x_label="x", y_label="y", title="t <&>"
    )
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert len([e for e in root.iter() if e.tag.endswith("circle")]) == 2  # NaN is left out


def test_bench_engine_on_the_tiny_model(tiny_model):
    from aimo.engines.llamacpp import LlamaCppEngine

    async def go():
        engine = LlamaCppEngine(str(tiny_model), n_ctx=2048, max_sequences=2)
        try:
            return await bench_engine(engine, [2, 1], max_tokens=8, settings={"model": "tiny"})
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    assert [row["concurrency"] for row in result.rows] == [1, 2]
    assert all(row["tok/s"] > 0 and row["tokens/stream"] > 0 for row in result.rows)
    assert all(row["ttft p95 s"] >= row["ttft p50 s"] for row in result.rows)
    assert result.rows[0]["gain"] is None and result.rows[1]["gain"] > 0
    assert result.settings["engine"] == "llamacpp" and result.settings["model"] == "tiny"
    assert result.settings["concurrency"] == [1, 2] and result.settings["max_tokens"] == 8
    assert result.ratios["peak concurrency"] in (1.0, 2.0)
    assert any("saturat" in note for note in result.notes)


def test_bench_engine_command_writes_json_and_svg(tiny_model, tmp_path, run_aimo):
    out, svg = tmp_path / "engine.json", tmp_path / "engine.svg"
    done = run_aimo(
        "bench", "engine", "--model", str(tiny_model), "--concurrency", "1", "2",
        "--max-tokens", "8", "--json", str(out), "--plot", str(svg),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["name"] == "engine" and data["schema"] == 1
    assert [row["concurrency"] for row in data["rows"]] == [1, 2]
    assert data["settings"]["engine"] == "llamacpp"
    assert data["settings"]["model_path"] == str(tiny_model)
    assert data["machine"]["cpus"]
    assert ET.fromstring(svg.read_text()).tag.endswith("svg")
    assert "c=2 │" in done.stdout
