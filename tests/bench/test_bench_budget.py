"""`aimo bench budget`: the plain pass and aimo under its time, on a real (tiny) llama.cpp model."""

from __future__ import annotations

import json

import pytest

from aimo.bench.budget import draw_problems


def write_problems(path, n: int = 6) -> None:
    rows = [
        {"id": f"p{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i), "level": f"Level {1 + i % 5}"}
        for i in range(n)
    ]
    rows.append({"id": "frac", "problem": "Half of one?", "answer": "\\frac{1}{2}", "level": "Level 1"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_the_draw_is_seeded_and_keeps_only_the_levels_and_integer_answers(tmp_path):
    path = tmp_path / "set.jsonl"
    write_problems(path, n=10)
    drawn = draw_problems(path, 3, seed=1, levels=(1, 2, 3))
    assert [p.id for p in drawn] == [p.id for p in draw_problems(path, 3, seed=1, levels=(1, 2, 3))]
    assert all(p.meta["level"] in ("Level 1", "Level 2", "Level 3") and p.id != "frac" for p in drawn)
    with pytest.raises(ValueError, match="only 6 problems match"):
        draw_problems(path, 7, seed=1, levels=(1, 2, 3))


def test_bench_budget_runs_both_sides_in_one_run_and_aimo_stays_inside_its_budget(
    tiny_model, tmp_path, run_aimo, monkeypatch
):
    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "set.jsonl"
    write_problems(data)
    out, svg = tmp_path / "budget.json", tmp_path / "budget.svg"
    done = run_aimo(
        "bench",
        "budget",
        "--data",
        str(data),
        "--problems",
        "2",
        "--levels",
        "1,2,3",
        "--factors",
        "1,2",
        "--max-tokens",
        "24",
        "--model",
        str(tiny_model),
        "--json",
        str(out),
        "--plot",
        str(svg),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert [r["run"] for r in result["rows"]] == ["plain", "aimo 1×", "aimo 2×"]
    plain = result["rows"][0]
    for row in result["rows"][1:]:
        assert row["seconds"] <= row["budget s"]
        assert row["budget s"] == pytest.approx(plain["seconds"] * float(row["run"].split()[1].rstrip("×")))
    assert set(result["settings"]["answers"]["plain"]) == set(result["settings"]["problems"])
    assert "<svg" in svg.read_text() and "plain single pass" in svg.read_text()
