"""`aimo sandbox run` and `aimo bench sandbox`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimo.bench.result import BenchResult
from aimo.cli.app import app

AIMO = Path(sys.executable).parent / "aimo"


def run_file(tmp_path: Path, code: str, *args: str) -> dict:
    if not AIMO.exists():
        pytest.skip(f"no aimo console script next to {sys.executable}")
    script = tmp_path / "code.py"
    script.write_text(code)
    out = subprocess.run(
        [str(AIMO), "sandbox", "run", str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def test_sandbox_run_prints_the_result_as_json(tmp_path):
    result = run_file(tmp_path, "import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7\n")
    assert result == {
        **result,
        "stdout": "out\n42\n",
        "stderr": "err\n",
        "error": None,
        "timed_out": False,
        "killed": False,
        "state_lost": False,
        "truncated": False,
        "memory_exceeded": False,
    }
    assert result["duration_s"] > 0


def test_sandbox_run_timeout(tmp_path):
    result = run_file(tmp_path, "while True:\n    pass\n", "--timeout", "1")
    assert result["timed_out"] and result["killed"] and result["error"].startswith("TimeoutError")


def test_bench_sandbox_writes_a_bench_result(tmp_path):
    out = tmp_path / "bench.json"
    cli = CliRunner().invoke(app, ["bench", "sandbox", "--n", "3", "--no-jupyter", "--json", str(out)])
    assert cli.exit_code == 0, cli.output
    result = BenchResult.read(out)
    assert result.name == "sandbox"
    operations = [row["operation"] for row in result.rows]
    assert operations == ["trivial call", "sympy call", "session start", "cold session start"]
    for row in result.rows:
        assert row["aimo p50"] > 0 and row["aimo p95"] >= row["aimo p50"]
        assert row["jupyter p50"] is None
    assert row["subprocess p50"] is None  # nothing to compare a cold aimo start with
    assert "trivial call: subprocess/aimo p50" in result.ratios
    assert any("jupyter column skipped" in note for note in result.notes)
