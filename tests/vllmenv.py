"""The separate vLLM environment (vLLM pins its own torch): where it is, and how to run aimo code in it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETUP_HINT = "create it with `bash .ci/vllm-env.sh`, or point AIMO_VLLM_PYTHON at its python"


def vllm_python() -> Path | None:
    """The vLLM environment's interpreter: $AIMO_VLLM_PYTHON, else ../vllm-env next to the repo."""
    env = os.environ.get("AIMO_VLLM_PYTHON")
    path = Path(env) if env else REPO.parent / "vllm-env" / "bin" / "python"
    return path if path.is_file() else None


def vllm_env() -> dict[str, str]:
    """The environment of a process run with the vLLM interpreter: aimo and the test helpers importable."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "tests")]))


def aimo_in_vllm_env(python: Path, args: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`python -m aimo ARGS` with the vLLM environment's interpreter, output captured."""
    return subprocess.run(
        [str(python), "-m", "aimo", *args], env=vllm_env(), capture_output=True, text=True, timeout=timeout
    )


def aimo_errors(stderr: str) -> list[str]:
    """The `aimo: error:` lines of a command's stderr (a user-facing error is exactly one)."""
    return [line for line in stderr.splitlines() if line.startswith("aimo: error:")]


def vllm_cpu_gap(model: Path | str, **engine_args: object) -> str | None:
    """What aimo says vLLM's CPU build cannot run here (`aimo.engines.vllm_cpu.cpu_gap`), asked in the
    vLLM environment; None when it can, or when there is no vLLM environment."""
    python = vllm_python()
    if python is None:
        return None
    code = (
        "import json, sys; from aimo.engines.vllm_cpu import cpu_gap; "
        "print(json.dumps(cpu_gap(sys.argv[1], json.loads(sys.argv[2]))))"
    )
    done = subprocess.run(
        [str(python), "-c", code, str(model), json.dumps(engine_args)],
        env=vllm_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    gap: str | None = json.loads(done.stdout.strip().splitlines()[-1])
    return gap
