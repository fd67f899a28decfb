"""`aimo eval --shard i/n` and `aimo merge`: shards that together are the unsharded run (replay)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_eval_cli import replay_args
from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.errors import AimoError
from aimo.evaluate.analysis import analyze
from aimo.evaluate.rundir import RunDir
from aimo.evaluate.shards import owned, parse_shard

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=True)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def replay(trace: Path, *more: str) -> list[str]:
    return ["eval", *replay_args(trace, "--repeats", "3", *more)]


def outcome(run: Path) -> dict:
    lines = lambda name: [json.loads(x) for x in (run / name).read_text().splitlines()]  # noqa: E731
    return {
        "samples": sorted(
            (s["repeat"], s["problem_id"], s["index"], s["answer"], s["completion_tokens"])
            for s in lines("samples.jsonl")
        ),
        "problems": sorted(
            (p["repeat"], p["problem_id"], p["position"], p["answer"], sorted(p["votes"].items()))
            for p in lines("problems.jsonl")
        ),
    }


def test_shards_split_the_work_exactly_and_merge_into_the_unsharded_run(tmp_path, tiny_trace):
    invoke(*replay(tiny_trace, "--out", str(tmp_path / "whole"), "--no-report"))
    for i in range(3):
        invoke(*replay(tiny_trace, "--shard", f"{i}/3", "--out", str(tmp_path / "sharded"), "--no-report"))
    parts = [RunDir.open(tmp_path / "sharded" / f"shard-{i}-of-3") for i in range(3)]
    done = [{(r.repeat, r.result.problem_id) for r in part.records()} for part in parts]
    assert sum(len(d) for d in done) == len(set().union(*done)) == 12  # 3 repeats × 4 problems, no overlap
    assert all(d == owned(p.info, parse_shard(p.info.shard)) for d, p in zip(done, parts, strict=True))

    invoke("merge", str(tmp_path / "sharded"))
    merged, whole = RunDir.open(tmp_path / "sharded"), RunDir.open(tmp_path / "whole")
    a, b = outcome(merged.path), outcome(whole.path)
    assert a == b, [set(a["problems"]) ^ set(b["problems"]), set(a["samples"]) ^ set(b["samples"])]
    timeless = lambda run: {  # noqa: E731
        k: v for k, v in analyze(run).summary.metrics.items() if "second" not in k and "/s" not in k
    }
    assert timeless(merged) == timeless(whole) and "accuracy" in timeless(whole)
    assert (tmp_path / "sharded" / "report.md").is_file()


def test_a_shard_cut_short_resumes_and_then_merges_with_nothing_lost_or_doubled(tmp_path, tiny_trace):
    invoke(*replay(tiny_trace, "--out", str(tmp_path / "whole"), "--no-report"))
    for i in range(2):
        invoke(*replay(tiny_trace, "--shard", f"{i}/2", "--out", str(tmp_path / "sharded"), "--no-report"))
    shard = tmp_path / "sharded" / "shard-1-of-2"
    problems = (shard / "problems.jsonl").read_text().splitlines(keepends=True)
    (shard / "problems.jsonl").write_text("".join(problems[:2]))  # as a kill leaves it: orphan samples
    with pytest.raises(AimoError, match="unfinished; resume it"):
        invoke("merge", str(tmp_path / "sharded"))
    invoke("eval", "--resume", str(shard), "--no-report")
    invoke("merge", str(tmp_path / "sharded"), "--no-report")
    assert outcome(tmp_path / "sharded") == outcome(tmp_path / "whole")


def test_merge_refuses_a_missing_shard_and_shard_needs_out(tmp_path, tiny_trace):
    invoke(*replay(tiny_trace, "--shard", "0/2", "--out", str(tmp_path / "sharded"), "--no-report"))
    with pytest.raises(AimoError, match="1/2 missing"):
        invoke("merge", str(tmp_path / "sharded"))
    with pytest.raises(AimoError, match="--shard needs --out"):
        invoke(*replay(tiny_trace, "--shard", "0/2"))
    with pytest.raises(AimoError, match="0 ≤ i < n"):
        invoke(*replay(tiny_trace, "--shard", "2/2", "--out", str(tmp_path / "x")))
