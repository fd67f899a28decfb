"""`aimo eval --ray local`: shards as Ray tasks on a local Ray instance, merged (replay; a llama.cpp
server over HTTP). Skips without Ray: pip install 'aimo[ray]'."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from servers import llama_server
from test_eval_shards import invoke, outcome, replay

pytest.importorskip("ray", reason="needs Ray: pip install -e '.[ray]'")


@pytest.fixture(autouse=True)
def _ray_workers_import_this_tree(monkeypatch):
    """Ray's worker processes import aimo from the same source tree as the test."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")


def test_ray_shards_of_a_replay_eval_merge_into_the_unsharded_run(tmp_path, tiny_trace):
    invoke(*replay(tiny_trace, "--out", str(tmp_path / "whole"), "--no-report"))
    invoke(
        *replay(tiny_trace, "--ray", "local", "--shards", "3", "--out", str(tmp_path / "ray"), "--no-report")
    )
    assert sorted(p.name for p in (tmp_path / "ray").glob("shard-*")) == [f"shard-{i}-of-3" for i in range(3)]
    assert outcome(tmp_path / "ray") == outcome(tmp_path / "whole")


def test_ray_shards_against_a_llamacpp_server(tmp_path, tiny_model):
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        "".join(json.dumps({"id": f"p{i}", "problem": f"What is {i}+{i}?"}) + "\n" for i in range(4))
    )
    out = tmp_path / "ray"
    with llama_server(tiny_model) as url:
        args = ["eval", str(problems), "--model", url, "-n", "2", "--max-tokens", "8", "--out", str(out)]
        invoke(*args, "--ray", "local", "--shards", "2", "--no-report")
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    keys = sorted((s["problem_id"], s["index"]) for s in samples)
    assert keys == [(f"p{i}", j) for i in range(4) for j in range(2)]  # every sample once, none lost
    assert all(s["completion_tokens"] > 0 for s in samples)
