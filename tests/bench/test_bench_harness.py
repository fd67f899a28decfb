"""`aimo bench harness`: scanning capacity on a small trace, efficiency on the tiny model."""

from __future__ import annotations

import asyncio
import json

import pytest

from aimo.bench.harness import Measured, bench_harness, scanning_capacity
from aimo.engines.traces import TraceProblem, TraceSample, write_traces
from aimo.solve.config import SamplingConfig

TEXT = (
    "Let me compute.\n```python\nprint(6 * 7)\n```\nSo the product is 42, and {nested {braces}} "
    "aside, the answer is \\boxed{42}. Checking again: \\boxed{42}.\n"
)


def small_trace(path):
    write_traces(
        path,
        [
            TraceProblem(
                "p1", "What is 6 * 7?", "42", (TraceSample(text=TEXT * 20, completion_tokens=900),) * 3
            ),
            TraceProblem("p2", "What is 40 + 2?", "42", (TraceSample(answer="41", completion_tokens=500),)),
        ],
    )
    return path


def test_scanning_capacity_counts_every_recorded_token(tmp_path):
    trace = small_trace(tmp_path / "trace.jsonl")
    # p1: 3 samples of 900 tokens; p2 has one sample, replayed for each of the 3 samples (wrap).
    measured = asyncio.run(scanning_capacity(trace, repeats=2))
    assert measured.tokens == 2 * (3 * 900 + 3 * 500)
    assert measured.cpu_s > 0 and measured.wall_s > 0


def test_harness_result_without_an_engine(tmp_path):
    trace = small_trace(tmp_path / "trace.jsonl")
    result = asyncio.run(bench_harness(trace, scan_repeats=1))
    assert [row["part"] for row in result.rows] == ["scanning (replay, unlimited speed)"]
    row = result.rows[0]
    assert row["tok/cpu-s"] == result.ratios["scanning tok/s per core"] > 0
    assert any("efficiency skipped" in note for note in result.notes)


def test_missing_trace_file_is_skipped_with_a_note(tmp_path):
    result = asyncio.run(bench_harness(tmp_path / "absent.jsonl"))
    assert result.rows == []
    assert any("scanning skipped" in note and "absent.jsonl" in note for note in result.notes)


def test_measured_adds_up():
    total = Measured(10, 1.0, 0.5) + Measured(5, 2.0, 0.25)
    assert total == Measured(15, 3.0, 0.75)
    assert total.row("x")["tok/s"] == 5.0 and total.row("x")["tok/cpu-s"] == 20.0


def test_efficiency_on_the_tiny_model(tiny_model, tmp_path):
    from aimo.engines.llamacpp import LlamaCppEngine

    trace = small_trace(tmp_path / "trace.jsonl")

    async def go():
        engine = LlamaCppEngine(str(tiny_model), n_ctx=2048, max_sequences=2)
        try:
            sampling = SamplingConfig(max_tokens=8, temperature=0.7, seed=3)
            return await bench_harness(trace, engine, sampling, samples=2, problems=1, repeats=1)
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    parts = {row["part"]: row for row in result.rows}
    assert set(parts) == {"scanning (replay, unlimited speed)", "bare engine", "solve path"}
    # The same requests on both sides: 2 samples of at most 8 tokens, the same seeds.
    bare, solve = parts["bare engine"], parts["solve path"]
    assert 0 < bare["tokens"] <= 16 and 0 < solve["tokens"] <= 16
    efficiency = result.ratios["efficiency (solve path / bare engine tok/s)"]
    assert efficiency == pytest.approx(solve["tok/s"] / bare["tok/s"])
    assert result.ratios["token ratio (solve path / bare engine)"] == pytest.approx(
        solve["tokens"] / bare["tokens"]
    )
    assert result.settings["engine"] == "llamacpp" and result.settings["seed"] == 3
    assert result.settings["samples"] == 2 and result.settings["max_tokens"] == 8


def test_harness_command_scanning_only(tmp_path, run_aimo):
    trace = small_trace(tmp_path / "trace.jsonl")
    out = tmp_path / "harness.json"
    done = run_aimo("bench", "harness", "--traces", str(trace), "--no-efficiency", "--json", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["name"] == "harness" and data["ratios"]["scanning tok/s per core"] > 0
