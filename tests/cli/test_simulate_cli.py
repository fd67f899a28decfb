"""`aimo simulate` on the shared ConSol traces."""

from __future__ import annotations

from typer.testing import CliRunner

from aimo.cli.app import app


def test_stopping_table_reproduces_majority_at_40(shared_data_dir):
    traces = f"{shared_data_dir / 'traces' / 'consol_aime24_all_runs.jsonl'}#o3minilow-aime24-vote"
    done = CliRunner().invoke(
        app, ["simulate", "stopping", "--traces", traces, "--rules", "", "--rules", "sprt"]
    )
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert any(line.startswith("majority@40") and "0.700" in line and "1,965,052" in line for line in lines)
    assert any(line.startswith("sprt ") for line in lines)


def test_budget_simulation_never_overruns(shared_data_dir):
    traces = f"{shared_data_dir / 'traces' / 'consol_aime24_all_runs.jsonl'}#o3minilow-aime24-vote"
    done = CliRunner().invoke(
        app, ["simulate", "budget", "--traces", traces, "--runs", "50", "--per-problem", "30"]
    )
    assert done.exit_code == 0, done.output
    rows = [line.split() for line in done.output.splitlines()[1:] if line.strip()]
    assert {row[1] for row in rows} == {"managed", "equal"}
    assert all(row[4] == "0" for row in rows)  # overruns
