"""`aimo quantize MODEL --scheme … --check DATASET` across the two environments it needs.

llm-compressor and vLLM pin different compressed-tensors versions, so they live in two environments
(here: this one, and vLLM's CPU build in ../vllm-env). The flow the docs give: the command quantizes
where llm-compressor is and says, in one line, that the check needs vLLM; the same command run where
vLLM is finds the finished checkpoint and runs only the check, both models on the real vLLM engine.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner
from vllmenv import SETUP_HINT, aimo_errors, aimo_in_vllm_env, vllm_cpu_gap, vllm_python

from aimo.cli.app import app
from aimo.quantize import QuantizeError, read_manifest
from aimo.quantize.check import vllm_args_from_flags

runner = CliRunner()
# vLLM on a CPU: a small KV cache (else it reserves most of the RAM) and no torch.compile (minutes).
CHECK_CONFIG = """
[engine]
vllm_args = { max_model_len = 2048, kv_cache_memory_bytes = 134217728, enforce_eager = true }
[sampling]
max_tokens = 16
[strategy]
samples = 2
strategy = "cot"
"""


@dataclass(frozen=True)
class Setup:
    """What the flow quantizes to: a scheme, with or without the FP8 KV cache."""

    scheme: str
    kv_cache_fp8: bool

    @property
    def engine_flags(self) -> list[str]:
        return ["--kv-cache-dtype", "fp8"] if self.kv_cache_fp8 else []


# The winners' setup: 4-bit weights and the FP8 KV cache; vLLM's CPU build runs it on AVX-512 CPUs.
WINNERS = Setup("w4a16-awq", kv_cache_fp8=True)
# FP8 weights with a 16-bit cache: vLLM's CPU build runs it on AVX2 CPUs too.
ANY_CPU = Setup("w8a8-fp8", kv_cache_fp8=False)


def command(
    model: Path, out: Path, problems: Path, config: Path, check: bool = True, setup: Setup = WINNERS
) -> list[str]:
    """The one `aimo quantize` command of the flow (calibrated and checked on the same few problems)."""
    checking = ["--check", str(problems), "--check-limit", "2", "--check-concurrency", "1,2"]
    return [
        "quantize", str(model),
        "--scheme", setup.scheme, *(["--kv-cache-fp8"] if setup.kv_cache_fp8 else []),
        "-o", str(out),
        "--calibration", str(problems), "--calibration-samples", "4", "--max-seq-length", "128",
        "--config", str(config),
        *([*checking, "--check-max-tokens", "16"] if check else []),
    ]  # fmt: skip


def vllm_here() -> bool:
    return importlib.util.find_spec("vllm") is not None


@dataclass(frozen=True)
class FirstRun:
    """The command run here once: the checkpoint it wrote, and how it ended."""

    out: Path
    config: Path
    result: Result
    setup: Setup


def run_here(setup: Setup, model: Path, problems: Path, where: Path) -> FirstRun:
    """The full command here (without --check where vLLM is installed here: that would run the check)."""
    config = where / "check.toml"
    config.write_text(CHECK_CONFIG)
    out = where / "q"
    args = command(model, out, problems, config, check=not vllm_here(), setup=setup)
    return FirstRun(out, config, runner.invoke(app, args), setup)


@pytest.fixture(scope="module")
def first_run(tiny_quantizable, math_problems, tmp_path_factory) -> FirstRun:
    return run_here(WINNERS, tiny_quantizable, math_problems, tmp_path_factory.mktemp("check"))


@pytest.fixture(scope="module")
def first_run_any_cpu(tiny_quantizable, math_problems, tmp_path_factory) -> FirstRun:
    return run_here(ANY_CPU, tiny_quantizable, math_problems, tmp_path_factory.mktemp("check-any-cpu"))


def test_check_without_vllm_keeps_the_checkpoint_and_says_what_to_install(first_run):
    if vllm_here():
        pytest.skip("vLLM is installed in this environment: the check runs here")
    out = first_run.out
    assert isinstance(first_run.result.exception, QuantizeError), first_run.result.output
    message = str(first_run.result.exception)
    assert "\n" not in message and "pip install 'aimo[vllm]'" in message
    assert f"{out} is kept" in message and "run this same command where vLLM is installed" in message
    assert read_manifest(out)["scheme"] == WINNERS.scheme and (out / "model.safetensors").is_file()
    assert not out.with_name("q.check").exists()  # nothing measured, nothing half-written


def test_an_output_made_differently_or_by_something_else_is_refused_not_checked(
    first_run, tiny_quantizable, math_problems
):
    args = command(tiny_quantizable, first_run.out, math_problems, first_run.config)
    args.remove("--kv-cache-fp8")
    result = runner.invoke(app, args)
    assert isinstance(result.exception, QuantizeError)
    assert "was made differently (kv_cache_fp8: True there, False here)" in str(result.exception)
    stranger = first_run.out.with_name("not-a-checkpoint")
    stranger.mkdir()
    result = runner.invoke(app, command(tiny_quantizable, stranger, math_problems, first_run.config))
    assert isinstance(result.exception, QuantizeError)
    assert "is no aimo quantize checkpoint" in str(result.exception)


@pytest.mark.slow
@pytest.mark.parametrize("setup", ["first_run", "first_run_any_cpu"])
def test_check_in_the_vllm_environment_measures_both_models_side_by_side(
    setup, tiny_quantizable, math_problems, request
):
    """The checkpoint quantized here (llm-compressor); the same command again in vLLM's environment."""
    first_run: FirstRun = request.getfixturevalue(setup)
    python = vllm_python()
    if python is None:
        pytest.skip(f"no vLLM environment: {SETUP_HINT}")
    out, scheme, flags = first_run.out, first_run.setup.scheme, first_run.setup.engine_flags
    gap = vllm_cpu_gap(out, **vllm_args_from_flags(flags))
    if gap is not None:
        pytest.skip(f"this machine: {gap}")
    made = (out / "model.safetensors").stat().st_mtime_ns

    args = command(tiny_quantizable, out, math_problems, first_run.config, setup=first_run.setup)
    run = aimo_in_vllm_env(python, args)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert f"quantized with {scheme} already: checking it" in " ".join(run.stderr.split())
    assert (out / "model.safetensors").stat().st_mtime_ns == made  # checked, not quantized again
    assert (run.stdout + run.stderr).count("Initializing a V1 LLM engine") == 2  # one load per side

    check = json.loads((out.with_name("q.check") / "check.json").read_text())
    assert check["quantized_engine_flags"] == flags
    original, quantized = check["sides"]
    assert original["model"] == str(tiny_quantizable) and quantized["model"] == str(out)
    for side in (original, quantized):
        assert side["metrics"]["accuracy"] is not None and side["metrics"]["tokens/problem"] > 0
        assert set(side["tok_s"]) == {"1", "2"} and all(v > 0 for v in side["tok_s"].values())
    # Each side's run directory records the model and engine arguments it really ran with.
    ran = {side["label"]: run_config(Path(side["run_dir"])) for side in (original, quantized)}
    assert ran["quantized"]["model"] == str(out)
    assert ran["quantized"]["vllm_args"].get("kv_cache_dtype") == ("fp8" if flags else None)
    assert ran["original"]["model"] == str(tiny_quantizable)
    assert "kv_cache_dtype" not in ran["original"]["vllm_args"]
    assert "tok/s @ 2" in run.stdout and "quantized/original" in run.stdout


@pytest.mark.slow
def test_check_where_vllm_cannot_run_the_quantized_model_says_why_in_one_line_and_keeps_it(
    first_run, tiny_quantizable, math_problems
):
    """vLLM's CPU build on a CPU without AVX-512 has no FP8 KV cache: the check refuses before it
    loads or measures anything (vLLM itself would die while starting, its reason buried in a log)."""
    python = vllm_python()
    if python is None:
        pytest.skip(f"no vLLM environment: {SETUP_HINT}")
    out = first_run.out
    gap = vllm_cpu_gap(out, kv_cache_dtype="fp8")
    if gap is None:
        pytest.skip("vLLM runs this checkpoint here: the check itself runs (the test above)")
    made = (out / "model.safetensors").stat().st_mtime_ns

    args = command(tiny_quantizable, out, math_problems, first_run.config)
    run = aimo_in_vllm_env(python, args)
    assert run.returncode != 0
    errors = aimo_errors(run.stderr)
    assert len(errors) == 1, run.stderr[-3000:]
    assert "FP8 KV cache" in errors[0] and gap in errors[0] and f"{out} is kept" in errors[0]
    assert "Initializing a V1 LLM engine" not in run.stdout + run.stderr  # nothing loaded
    assert (out / "model.safetensors").stat().st_mtime_ns == made
    assert not out.with_name("q.check").exists()  # nothing measured, nothing half-written


def run_config(run_dir: Path) -> dict:
    return json.loads((run_dir / "config.json").read_text())["config"]["engine"]
