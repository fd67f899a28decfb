"""The offline path end to end: bundle → fresh venv, no index, no network → the notebook serves the
local gateway on the AIMO-2 reference problems with a real (tiny) llama.cpp model.

Needs (each missing one skips, saying so): llama-cpp-python and the tiny test model; the shared data
(aimo2_reference.csv); a built llama-cpp-python wheel (`$AIMO_LLAMA_WHEEL`, or the one pip's cache
holds after `pip install llama-cpp-python` built it); `unshare -n` (root or user namespaces); and PyPI
or a warm pip cache while the bundle downloads its wheels. About two minutes, mostly the offline install.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from kaggle_files import write_config

from aimo.kaggle.bundle import BundleSpec, build_bundle, linux_platforms
from aimo.solve.records import read_records


def llama_wheel() -> Path:
    """A built llama-cpp-python wheel: $AIMO_LLAMA_WHEEL, else the newest in pip's cache."""
    if env := os.environ.get("AIMO_LLAMA_WHEEL"):
        return Path(env)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "list", "--format=abspath", "llama_cpp_python"],
        capture_output=True,
        text=True,
    )
    wheels = [Path(line) for line in done.stdout.split() if line.endswith(".whl")]
    if not wheels:
        pytest.skip(
            "no built llama-cpp-python wheel: run pip wheel llama-cpp-python --no-deps -w DIR, "
            "then set AIMO_LLAMA_WHEEL"
        )
    return max(wheels, key=lambda p: p.stat().st_mtime)


def no_network_command() -> list[str]:
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("`unshare -n` is not permitted here (needs root or unprivileged user namespaces)")
    return ["unshare", "-n"]


def offline_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH or pip settings (no config file: no extra index or links)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, **extra}


def test_the_bundle_installs_offline_and_its_notebook_submits_inside_the_budget(
    tiny_model, shared_data_dir, tmp_path
):
    reference = (shared_data_dir / "sets" / "aimo2_reference.csv").resolve()  # the notebook runs elsewhere
    if not reference.is_file():
        pytest.skip(f"{reference} not found")
    isolate = no_network_command()
    wheel = llama_wheel()
    config = write_config(
        tmp_path / "run.toml",
        {
            "engine": {"model": str(tiny_model)},
            "sampling": {"max_tokens": 32},
            "strategy": {"samples": 2},
            "budget": {"total_s": 40},
            "kaggle": {"competition": "aimo2", "problems": 10, "time_limit_s": 60, "margin_s": 10},
        },
    )
    glibc = platform.libc_ver()[1]
    bundle = build_bundle(
        BundleSpec(
            config=config,
            out=tmp_path / "bundle",
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
            platforms=linux_platforms(glibc, platform.machine()),
            extras=("llamacpp",),
            wheels=(wheel,),
        )
    )
    assert bundle.requirements == ["aimo[kaggle,llamacpp]"] and bundle.image_engines == []
    assert bundle.local_paths == [f"engine.model = {tiny_model}"]
    assert {"aimo_notebook.py", "aimo_notebook.ipynb", "run.toml", "bundle.json"} <= {
        p.name for p in bundle.path.iterdir()
    }

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [*isolate, str(venv / "bin" / "python"), str(bundle.path / "aimo_notebook.py")],
        cwd=work,
        env=offline_env(AIMO_KAGGLE_TEST_CSV=str(reference)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import aimo; print(aimo.__file__)"],
        env=offline_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in installed  # aimo came from the bundle's wheel, not this source tree

    gold = pl.read_csv(reference, infer_schema_length=0)
    submission = pl.read_parquet(work / "submission.parquet")
    assert sorted(submission.get_column("id").to_list()) == sorted(gold.get_column("id").to_list())
    assert all(0 <= answer <= 999 for answer in submission.get_column("answer").to_list())
    assert "(inside it)" in done.stdout and "score: " in done.stdout, done.stdout
    assert len(list(read_records(work / "aimo-kaggle.jsonl"))) == gold.height
