"""The separate vLLM environment (vLLM pins its own torch): where it is, and how to run aimo code in it."""

from __future__ import annotations

import os
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
