"""`aimo kaggle bundle` for Kaggle's image (CPython 3.11, glibc 2.35) with a vLLM config: vLLM is named,
not bundled. Needs PyPI or a warm pip cache for the wheels (about 100 MB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kaggle_files import write_config


def test_bundle_for_kaggles_image_names_vllm_and_carries_aimos_dependencies(tmp_path: Path):
    config = write_config(
        tmp_path / "run.toml",
        {"engine": {"engine": "vllm", "model": "/kaggle/input/qwen/7b"}, "kaggle": {"competition": "aimo3"}},
    )
    out = tmp_path / "bundle"
    done = subprocess.run(
        [sys.executable, "-m", "aimo", "kaggle", "bundle", "-c", str(config), "-o", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not bundled: vllm" in done.stdout and "note:" not in done.stdout
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["python_version"] == "3.11" and manifest["image_engines"] == ["vllm"]
    names = {name.split("-")[0].lower() for name in manifest["wheels"]}
    assert {"aimo", "polars", "pydantic", "sympy", "math_verify", "numpy"} <= names
    assert "vllm" not in names and "llama_cpp_python" not in names
    assert all("cp311" in n or "-py3-" in n or "py2.py3" in n or "abi3" in n for n in manifest["wheels"])
    assert "ENGINE_MODULES = ['vllm']" in (out / "aimo_notebook.py").read_text()
    assert (out / "run.toml").read_text() == config.read_text()
