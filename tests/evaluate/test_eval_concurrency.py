"""`aimo eval --concurrency K`: (repeat, problem, sample) work under one in-flight cap, results equal
to the one-problem-at-a-time run on the same seeds (replay and a real llama.cpp model)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.config import RunConfig
from aimo.engines.base import GenerationRequest
from aimo.engines.factory import open_engine
from aimo.evaluate.rundir import RunDir, RunInfo
from aimo.evaluate.runner import run_eval
from aimo.problems import Problem
from aimo.solve.run import problems_from_traces

runner = CliRunner()


def outcome(run: Path) -> dict:
    """What a run found, independent of the order it was written in."""
    samples = {
        (s["repeat"], s["problem_id"], s["index"]): (s["text"], s["answer"], s["completion_tokens"])
        for s in map(json.loads, (run / "samples.jsonl").read_text().splitlines())
    }
    problems = {
        (p["repeat"], p["problem_id"]): (p["answer"], p["votes"], p["correct"], p["position"])
        for p in map(json.loads, (run / "problems.jsonl").read_text().splitlines())
    }
    return {"samples": samples, "problems": problems}


def evaluate(
    config: RunConfig, problems: list[Problem], out: Path, repeats: int, concurrency: int | None
) -> int | None:
    """Run `problems` × `repeats` into `out`; the most samples that ran at once (None: sequential).

    The engine is sized for 12 sequences either way: llama.cpp's numerics depend on its context size."""
    info = RunInfo(config=config, dataset={}, problem_ids=[p.id for p in problems], repeats=repeats, seed=11)
    run = RunDir.create(out, info)

    async def go() -> int | None:
        async with open_engine(config.engine_for_run(12)) as engine:
            slots = await run_eval(engine, problems, run, concurrency=concurrency)
        return None if slots is None else slots.peak

    return asyncio.run(go())


def test_concurrent_replay_eval_equals_the_sequential_one_and_overlaps_problems(tmp_path, tiny_trace):
    config = RunConfig.from_dict(
        {
            "engine": {"engine": "replay", "traces": str(tiny_trace), "replay_tokens_per_s": 2000},
            "strategy": {"samples": 4},
        }
    )
    problems = problems_from_traces(str(tiny_trace))
    sequential = evaluate(config, problems, tmp_path / "seq", repeats=3, concurrency=None)
    peak = evaluate(config, problems, tmp_path / "conc", repeats=3, concurrency=10)
    assert sequential is None
    assert peak == 10  # more than one problem's 4 samples, never more than the cap
    assert outcome(tmp_path / "conc") == outcome(tmp_path / "seq")
    assert len(outcome(tmp_path / "conc")["samples"]) == 3 * 4 * 4


def test_concurrent_llamacpp_eval_equals_the_sequential_one(tmp_path, tiny_model):
    """Same seeds, same texts: batching samples of several problems together changes no token.

    One repeat: a later repeat's prompts are found in the KV cache, computed in another batch, so
    its texts can differ by numerics between any two runs, sequential ones included."""
    config = RunConfig.from_dict(
        {
            "engine": {"model": str(tiny_model), "n_ctx": 2048, "max_sequences": 4, "n_threads": 2},
            "sampling": {"max_tokens": 16, "temperature": 0.8, "seed": 11},
            # Answer forcing has a wall-clock timeout: on a loaded machine it would decide the answers.
            "strategy": {"samples": 3, "force_answer": False},
        }
    )
    problems = [Problem(id=f"p{i}", text=f"What is {i} + {i}?", answer=str(2 * i)) for i in range(4)]
    evaluate(config, problems, tmp_path / "seq", repeats=1, concurrency=None)
    peak = evaluate(config, problems, tmp_path / "conc", repeats=1, concurrency=12)
    assert peak is not None and peak > 3  # samples of several problems decoded together
    seq, conc = outcome(tmp_path / "seq"), outcome(tmp_path / "conc")
    assert len(conc["samples"]) == 4 * 3
    assert conc == seq


def test_eval_cli_takes_concurrency_and_says_how_many_ran_at_once(tmp_path, tiny_trace):
    out = tmp_path / "run"
    config = tmp_path / "replay.toml"
    config.write_text(
        f'[engine]\nengine = "replay"\ntraces = "{tiny_trace}"\nreplay_tokens_per_s = 2000\n'
        "[strategy]\nsamples = 4\n"
    )
    args = ["eval", str(tiny_trace), "-c", str(config), "--concurrency", "6", "--out", str(out)]
    result = runner.invoke(app, [*args, "--no-report"])
    assert result.exit_code == 0, result.output
    assert "up to 6 of 6 samples at once" in result.output
    assert len(outcome(out)["problems"]) == 4


def test_competition_mode_stays_one_problem_at_a_time(tmp_path, tiny_trace):
    out = tmp_path / "run"
    args = ["eval", str(tiny_trace), "--engine", "replay", "--traces", str(tiny_trace), "-n", "4"]
    more = ["--simulate-budget", "60", "--orders", "1", "--concurrency", "16", "--out", str(out)]
    result = runner.invoke(app, [*args, *more, "--no-report"])
    assert result.exit_code == 0, result.output
    assert "samples at once" not in result.output
    assert len(outcome(out)["problems"]) == 4


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_concurrency_below_one_is_refused(tmp_path, tiny_trace, bad):
    result = runner.invoke(app, ["eval", str(tiny_trace), "--engine", "replay", "--concurrency", bad])
    assert result.exit_code != 0 and "--concurrency" in result.output


def test_concurrent_eval_against_a_dead_server_stops_with_one_line_and_keeps_its_records(
    tmp_path, tiny_trace
):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "run"
    args = ["eval", str(tiny_trace), "--model", f"http://127.0.0.1:{port}/v1", "-n", "2", "--out", str(out)]
    result = runner.invoke(app, [*args, "--concurrency", "4", "--no-report"])
    assert result.exit_code != 0
    assert "problems in a row failed in every sample" in str(result.exception or result.output)
    written = outcome(out)["problems"]
    assert written and all(answer is None for answer, *_ in written.values())


def test_execute_runs_on_the_engine_it_is_given_and_leaves_it_open(tmp_path, tiny_trace, monkeypatch):
    """`aimo quantize --check` evaluates and benches on one engine load: execute must not open another."""
    from aimo.evaluate import launch

    config = RunConfig.from_dict({"engine": {"engine": "replay", "traces": str(tiny_trace)}})
    session = launch.start(launch.EvalRequest(str(tiny_trace), config, out=tmp_path / "run"))

    async def go() -> int:
        async with open_engine(config.engine) as engine:
            monkeypatch.setattr(launch, "open_engine", None)  # a second engine would fail to open
            await launch.execute(session, engine=engine)
            again = GenerationRequest(prompt=session.problems[0].text, max_tokens=4)
            chunks = [c async for c in engine.stream(again)]
        return len(chunks)

    assert asyncio.run(go()) > 0  # still open after the evaluation
    assert session.run.path.joinpath("problems.jsonl").read_text().count("\n") == len(session.problems)
