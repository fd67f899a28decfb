"""The token scheduler: ridge fit with leave-one-out, its file, the time weight, and its use by the
time manager (fair share scaled) and by `aimo simulate`'s scheduled policy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.data import DataError, TokenScheduler, fit_scheduler, token_prior
from aimo.data.graded import GradedProblem, GradedSample
from aimo.data.scheduler import fit_ridge
from aimo.engines.traces import TraceProblem, TraceSample
from aimo.solve.budget import BudgetManager
from aimo.solve.config import BudgetConfig
from aimo.solve.simulate import CompetitionSetup, simulate_competition


def word_count_embedder(texts):
    """A deterministic stand-in for sentence embeddings: one feature, the number of words."""
    return np.array([[len(t.split())] for t in texts], dtype=float)


def problem(n_words: int, tokens: int) -> GradedProblem:
    text = " ".join(["word"] * n_words)
    return GradedProblem(f"p{n_words}", text, "1", (GradedSample("\\boxed{1}", "1", True, tokens),))


def test_ridge_leave_one_out_matches_refitting_without_the_point():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    model, loo = fit_ridge(x, y, alphas=(1.0,))
    refit, _ = fit_ridge(np.delete(x, 4, axis=0), np.delete(y, 4), alphas=(1.0,))
    assert loo[4] == pytest.approx(refit(x[4:5])[0])
    assert model.alpha == 1.0


def test_scheduler_learns_tokens_from_text_and_round_trips(tmp_path):
    problems = [problem(n, int(100 * math.exp(0.1 * n))) for n in range(5, 40, 3)]
    fit = fit_scheduler(problems, embedder=word_count_embedder)
    assert fit.loo_log_error() < 0.2 * fit.baseline_log_error()
    path = tmp_path / "scheduler.json"
    fit.scheduler.save(path)
    loaded = TokenScheduler.load(path)
    (long,) = loaded.predict(["word " * 38], embedder=word_count_embedder)
    assert long.tokens == pytest.approx(100 * math.exp(3.8), rel=0.05)
    assert loaded.weight(long.tokens) == 2.0  # clipped
    weight = token_prior(str(path), embedder=word_count_embedder)
    assert weight is not None and weight("word " * 5) == 0.5
    assert token_prior(None) is None


def test_scheduler_refuses_too_little_data_and_bad_files(tmp_path):
    with pytest.raises(DataError, match="at least 3 problems"):
        fit_scheduler([problem(3, 10)], embedder=word_count_embedder)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(DataError, match="not a token scheduler"):
        TokenScheduler.load(bad)
    with pytest.raises(DataError, match="cannot read"):
        TokenScheduler.load(tmp_path / "missing.json")


def test_budget_weight_scales_the_fair_share():
    now = 0.0
    config = BudgetConfig(total_s=100.0, reserve_s=0.0, fallback_s=0.0, borrow=1.0)
    plain = BudgetManager(config, 4, clock=lambda: now).start_problem()
    heavy = BudgetManager(config, 4, clock=lambda: now).start_problem(2.0)
    assert plain.allotted_s == pytest.approx(25.0)
    assert heavy.allotted_s == pytest.approx(50.0)


def test_simulated_scheduled_policy_with_unit_weights_equals_the_time_manager():
    problems = [
        TraceProblem(
            f"q{i}", "", "1", tuple(TraceSample(answer="1", completion_tokens=200 + 50 * i) for _ in range(4))
        )
        for i in range(5)
    ]
    config = BudgetConfig(total_s=60.0, reserve_s=1.0, fallback_s=0.5)
    setup = CompetitionSetup(config, runs=20, samples=4, weights={p.problem_id: 1.0 for p in problems})
    outcome = simulate_competition(problems, setup)
    assert outcome["scheduled"].scores == outcome["managed"].scores
    assert outcome["scheduled"].seconds == outcome["managed"].seconds


def test_cli_fit_and_predict_with_real_embeddings(run_dir, tmp_path):
    pytest.importorskip(
        "sentence_transformers", reason="needs sentence-transformers: pip install 'aimo[train]'"
    )
    runner = CliRunner()
    out = tmp_path / "scheduler.json"
    done = runner.invoke(app, ["data", "scheduler", "fit", str(run_dir), "-o", str(out)])
    assert done.exit_code == 0, done.output
    problems = run_dir.parent / "problems.jsonl"
    done = runner.invoke(app, ["data", "scheduler", "predict", str(out), str(problems)])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.output.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == ["sum", "prod", "pow"]
    assert all(r["tokens"] > 0 and 0 <= r["pass_rate"] <= 1 and 0.5 <= r["weight"] <= 2 for r in rows)


def test_run_asks_the_token_prior_for_each_problem_and_stays_inside_the_budget(tmp_path, monkeypatch):
    import asyncio
    import time

    from aimo.engines.replay import ReplayEngine
    from aimo.engines.throughput import ThroughputCurve
    from aimo.problems import Problem
    from aimo.solve.config import SamplingConfig, StrategyConfig
    from aimo.solve.run import RunSettings, solve_problems

    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path / "cache"))
    recorded = [
        TraceProblem(
            f"p{i}",
            f"Problem {i}?",
            "7",
            tuple(TraceSample(answer="7", completion_tokens=100) for _ in range(2)),
        )
        for i in range(3)
    ]
    engine = ReplayEngine(recorded, throughput=ThroughputCurve({1: 200.0, 2: 300.0}))
    asked: list[str] = []

    def heavy(text: str) -> float:
        asked.append(text)
        return 2.0

    settings = RunSettings(
        StrategyConfig(samples=2),
        SamplingConfig(max_tokens=400),
        BudgetConfig(total_s=6.0, reserve_s=0.5, fallback_s=0.1, prior_tokens=100),
        token_prior=heavy,
    )
    problems = [Problem(id=t.problem_id, text=t.text, answer="7") for t in recorded]
    start = time.monotonic()
    results = asyncio.run(solve_problems(engine, problems, settings))
    assert time.monotonic() - start <= 6.0
    assert asked == ["Problem 0?", "Problem 1?", "Problem 2?"]
    assert all(r.answer == "7" for r in results)


def test_planner_token_estimate_scales_with_the_problem_weight():
    from aimo.solve.planner import Planner, TokenModel

    planner = Planner(meter=None, tokens=TokenModel(prior=[400]), max_samples=4, max_tokens=1000)  # type: ignore[arg-type]
    assert planner.typical_tokens() == 400
    planner.token_scale = 2.0
    assert planner.typical_tokens() == 800
    planner.token_scale = 4.0
    assert planner.typical_tokens() == 1000  # never above the cap


def test_cli_compare_prints_fair_scheduled_and_oracle_scores(run_dir):
    pytest.importorskip(
        "sentence_transformers", reason="needs sentence-transformers: pip install 'aimo[train]'"
    )
    done = CliRunner().invoke(
        app,
        [
            "data",
            "scheduler",
            "compare",
            str(run_dir),
            "--runs",
            "5",
            "--samples",
            "3",
            "--per-problem",
            "20",
        ],
    )
    assert done.exit_code == 0, done.output
    header, row = done.output.strip().splitlines()[-2:]
    assert header.split()[:5] == ["s/problem", "equal", "fair", "sched", "oracle"]
    assert row.split()[0] == "20"
