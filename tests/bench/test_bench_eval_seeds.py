"""`aimo bench eval --unseeded`: the requests carry `seed: null` (vLLM CPU dies on seeded ones)."""

from __future__ import annotations

import json

import pytest
from servers import ScriptedSSE, chat_delta
from typer.testing import CliRunner

from aimo.cli.app import app


@pytest.mark.parametrize("unseeded", [True, False])
def test_bench_eval_unseeded_sends_null_seeds_to_the_server(tmp_path, unseeded):
    problems = tmp_path / "one.jsonl"
    problems.write_text(json.dumps({"id": "p1", "problem": "What is 3 + 4?", "answer": "7"}) + "\n")
    answer = [chat_delta("So \\boxed{7}.", "stop"), "[DONE]"]
    with ScriptedSSE([answer] * 8) as server:
        args = ["bench", "eval", str(problems), "--model", server.url, "-n", "1", "--max-tokens", "8"]
        args += ["--concurrency", "1", "--no-sequential"]
        result = CliRunner().invoke(app, [*args, "--unseeded"] if unseeded else args)
    assert result.exit_code == 0, result.output
    assert len(server.requests) >= 3  # warm-up, engine alone, the evaluation
    seeds = [request.get("seed", "absent") for request in server.requests]
    if unseeded:
        assert seeds == [None] * len(seeds)
    else:
        assert all(isinstance(seed, int) for seed in seeds)
