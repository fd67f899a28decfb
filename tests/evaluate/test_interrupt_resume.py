"""Ctrl-C and --resume of `aimo solve -o` and `aimo eval` as a user meets them: real processes, SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.errors import AimoError


def aimo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aimo", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def interrupt_after_first_result(args: list[str], results: Path, cwd: Path) -> tuple[int, str]:
    """Start `aimo ARGS`, send SIGINT once `results` holds a line; its exit code and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aimo", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "300"},
    )
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if results.exists() and results.read_text().count("\n") >= 1:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stderr


@pytest.fixture()
def slow_replay(tmp_path: Path, tiny_trace: Path) -> Path:
    """A replay config that takes about 0.8 s per problem (4 problems)."""
    config = tmp_path / "replay.toml"
    config.write_text(
        f'[engine]\nengine = "replay"\ntraces = "{tiny_trace}"\nreplay_tokens_per_s = 200\n'
        "[strategy]\nsamples = 4\n"
    )
    return config


def test_ctrl_c_in_solve_keeps_the_results_says_how_to_resume_and_exits_130(
    tmp_path, tiny_trace, slow_replay
):
    args = ["solve", str(tiny_trace), "-c", str(slow_replay), "-o", "results.jsonl"]
    code, stderr = interrupt_after_first_result(args, tmp_path / "results.jsonl", tmp_path)
    assert code == 130, stderr
    kept = len((tmp_path / "results.jsonl").read_text().splitlines())
    assert 1 <= kept < 4
    line = next(x for x in stderr.splitlines() if x.startswith("interrupted:"))
    assert f"{kept} of 4 problems are in results.jsonl" in line
    resume = line.split("continue with: ")[1]
    assert resume.startswith("aimo solve ") and resume.endswith("-o results.jsonl --resume")

    resumed = aimo(*resume.split()[1:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"4/4 problems done ({4 - kept} in this run" in resumed.stdout
    assert "4/4" in resumed.stderr  # the progress bar counts the earlier problems too
    ids = [json.loads(x)["problem_id"] for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(ids) == ["t1", "t2", "t3", "t4"]


def test_ctrl_c_in_eval_says_what_was_kept_and_the_resumed_run_counts_done_of_total(
    tmp_path, tiny_trace, slow_replay
):
    # Four samples in flight (one problem's): all four problems at once would finish together.
    args = [
        "eval",
        str(tiny_trace),
        "-c",
        str(slow_replay),
        "--out",
        "run",
        "--no-report",
        "--concurrency",
        "4",
    ]
    code, stderr = interrupt_after_first_result(args, tmp_path / "run" / "problems.jsonl", tmp_path)
    assert code == 130, stderr
    kept = len((tmp_path / "run" / "problems.jsonl").read_text().splitlines())
    assert (
        f"interrupted: {kept} of 4 problem runs are in run; continue with: aimo eval --resume run" in stderr
    )

    resumed = aimo("eval", "--resume", "run", "--no-report", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"4/4 problem runs done ({4 - kept} in this run" in resumed.stderr


def test_solve_resume_without_an_output_file_is_refused(tmp_path):
    done = aimo("solve", "What is 1+1?", "--resume", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "aimo: error: --resume continues a results file: give it with -o FILE"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nowhere", "no run directory at .*nowhere"),
        (lambda p: (p.mkdir(), p)[1], r"is not a run directory \(no config.json\)"),
        (lambda p: (p.write_text("{}\n"), p)[1], "is not a run directory: resume a run with"),
    ],
    ids=["missing", "empty directory", "a file"],
)
def test_eval_resume_of_something_that_is_not_a_run_says_so(tmp_path, make, message):
    target = make(tmp_path / "target")
    with pytest.raises(AimoError, match=message):
        CliRunner().invoke(app, ["eval", "--resume", str(target)], catch_exceptions=False)
