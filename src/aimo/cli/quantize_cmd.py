"""`aimo quantize`: llm-compressor checkpoints for vLLM, GGUF files for llama.cpp, a before/after check."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from aimo.cli.bench_cmd import parse_concurrency
from aimo.cli.options import ConfigOpt, EngineOpt, build_config
from aimo.quantize.schemes import QuantizeError

if TYPE_CHECKING:
    from aimo.config import RunConfig
    from aimo.quantize.check import CheckSettings

err = Console(stderr=True)
out = Console()


def quantize(
    model: Annotated[
        str | None, typer.Argument(help="Hugging Face model directory or hub id org/name.")
    ] = None,
    scheme: Annotated[
        str | None,
        typer.Option(help="w4a16-awq | w4a16-gptq | w8a16 | w8a8-fp8 (llm-compressor → compressed-tensors)."),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="gguf:TYPE, e.g. gguf:Q4_K_M, gguf:Q8_0, gguf:F16 (llama.cpp).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Checkpoint directory (--scheme) or .gguf file (--to)."),
    ] = None,
    revision: Annotated[
        str | None, typer.Option(help="Hub revision (branch, tag or commit) to pin; the commit is recorded.")
    ] = None,
    calibration: Annotated[
        str,
        typer.Option(
            help="Calibration data: a problem file, a dataset name, or an `aimo eval` run directory."
        ),
    ] = "math500",
    calibration_samples: Annotated[int, typer.Option(min=1, help="Chats to calibrate on.")] = 256,
    max_seq_length: Annotated[int, typer.Option(min=16, help="Calibration tokens per chat.")] = 2048,
    kv_cache_fp8: Annotated[
        bool, typer.Option(help="Also calibrate FP8 KV-cache scales (run vLLM with --kv-cache-dtype fp8).")
    ] = False,
    converter: Annotated[
        Path | None, typer.Option(help="llama.cpp's convert_hf_to_gguf.py (or a checkout holding it).")
    ] = None,
    fetch_converter: Annotated[
        bool, typer.Option(help="Fetch the converter from llama-cpp-python's source on PyPI into the cache.")
    ] = False,
    check: Annotated[
        str | None,
        typer.Option(help="Then evaluate and bench the original and the quantized model on this dataset."),
    ] = None,
    check_limit: Annotated[int, typer.Option(min=1, help="--check: problems evaluated.")] = 10,
    check_concurrency: Annotated[
        str, typer.Option(help="--check: bench engine levels, e.g. 1,4,16.")
    ] = "1,4",
    check_max_tokens: Annotated[int, typer.Option(min=1, help="--check: tokens per bench stream.")] = 256,
    config: ConfigOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Quantize a model the way the AIMO winners did (AWQ/GPTQ/FP8 for vLLM, GGUF for llama.cpp)."""
    from aimo.quantize import gguf

    if fetch_converter:
        out.print(f"converter: {gguf.fetch_converter(progress=_say)}")
        if model is None:
            return
    if model is None:
        raise typer.BadParameter("give a MODEL (a Hugging Face model directory or hub id)")
    if (scheme is None) == (to is None):
        raise typer.BadParameter("give exactly one of --scheme and --to gguf:TYPE")
    if output is None:
        raise typer.BadParameter("give --output (-o)")
    try:
        levels = tuple(parse_concurrency([check_concurrency], []))
    except typer.BadParameter as exc:
        raise typer.BadParameter(exc.message, param_hint="--check-concurrency") from None
    from aimo.quantize.source import resolve_source

    source = resolve_source(model, revision)
    check_dir = output.with_name(output.name + ".check")
    flags: list[str] = []
    reused = False
    if scheme is not None:
        from aimo.quantize.calibration import load_calibration
        from aimo.quantize.compress import CompressRequest, compress, earlier_checkpoint
        from aimo.quantize.manifest import read_manifest
        from aimo.quantize.schemes import get_scheme

        chosen = get_scheme(scheme)
        if check and output.exists():  # the second half of the two-environment flow: check it
            result, reused = earlier_checkpoint(output, source, chosen, kv_cache_fp8), True
            _say(f"{output} holds {model} quantized with {chosen.name} already: checking it")
        else:
            data = load_calibration(calibration, calibration_samples)
            request = CompressRequest(source, chosen, data, output, kv_cache_fp8, max_seq_length)
            result = compress(request, progress=_say)
        original, flags = str(source.path), list(read_manifest(result).get("engine_flags", []))
    else:
        assert to is not None
        gguf_type = gguf.parse_gguf_target(to)
        baseline = check_dir / "original-f16.gguf" if check else None
        if baseline is not None:
            baseline.parent.mkdir(parents=True, exist_ok=True)
        request_gguf = gguf.GGUFRequest(source, gguf_type, output, converter, keep_f16=baseline)
        result, original = gguf.convert(request_gguf, progress=_say), str(baseline)
    if not reused:
        out.print(f"wrote {result}")
    if check:
        from aimo.quantize.check import CheckSettings

        settings = CheckSettings(check, check_limit, levels, check_max_tokens)
        _check(original, result, flags, settings, build_config(config, engine=engine), check_dir)


def _check(
    original: str,
    quantized: Path,
    flags: list[str],
    settings: CheckSettings,
    run_config: RunConfig,
    check_dir: Path,
) -> None:
    from aimo.quantize.check import CHECK_FILE, check_result, run_check, vllm_gap_for, vllm_missing_for

    if vllm_missing_for(original, run_config):
        raise QuantizeError(
            f"--check runs both models on vLLM, which is not installed here (pip install 'aimo[vllm]'); "
            f"{quantized} is kept: run this same command where vLLM is installed and only the check runs "
            "(llm-compressor and vLLM pin different compressed-tensors, so usually another environment)"
        )
    gap = vllm_gap_for(str(quantized), run_config, flags)
    if gap is not None:
        raise QuantizeError(
            f"--check cannot run the quantized model on this machine: {gap}; {quantized} is kept: run "
            "this same command there and only the check runs"
        )
    run = run_check(original, str(quantized), run_config, settings, check_dir, _say, engine_flags=flags)
    sides = asyncio.run(run)
    check_result(sides, settings).print(out)
    out.print(f"details: {check_dir / CHECK_FILE}")


def _say(message: str) -> None:
    err.print(f"[dim]{message}[/dim]")


def register(app: typer.Typer, bench_app: typer.Typer) -> Any:
    app.command()(quantize)
