"""`aimo quantize … --check DATASET`: the original and the quantized model, measured the same way.

Each model in turn gets one engine (loaded once): the same small evaluation (`aimo eval`'s run
directory, same problems, seeds and strategy) and then `aimo bench engine`'s throughput levels.
The sides run one after the other, so they never share the machine; the table puts them side by side.
The quantized side runs with the engine flags its manifest names (`--kv-cache-dtype fp8` after
`--kv-cache-fp8`), so the check measures the checkpoint the way it is meant to be served.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aimo.bench.engine import bench_engine
from aimo.bench.result import BenchResult
from aimo.config import RunConfig
from aimo.engines.config import EngineConfig
from aimo.engines.factory import open_engine, pick_engine
from aimo.evaluate.analysis import analyze
from aimo.evaluate.launch import EvalRequest, execute, start
from aimo.models import Progress, resolve_model
from aimo.quantize.schemes import QuantizeError

CHECK_FILE = "check.json"
SHOWN_METRICS = ("accuracy", "pass@1", "tokens/problem", "seconds/problem")


@dataclass(frozen=True)
class CheckSettings:
    dataset: str
    limit: int = 10  # problems
    concurrency: tuple[int, ...] = (1, 4)  # bench engine levels
    bench_max_tokens: int = 128


@dataclass
class Side:
    """One model's numbers: evaluation metrics and engine throughput (tok/s by concurrency)."""

    label: str
    model: str
    run_dir: str
    metrics: dict[str, float] = field(default_factory=dict)
    tok_s: dict[int, float] = field(default_factory=dict)


def vllm_args_from_flags(flags: Sequence[str]) -> dict[str, object]:
    """vLLM's command-line flags as engine arguments: `--kv-cache-dtype fp8` → {"kv_cache_dtype": "fp8"}."""
    if len(flags) % 2 or not all(f.startswith("--") for f in flags[::2]):
        raise QuantizeError(f"engine flags must be --name value pairs, got {list(flags)}")
    return {name[2:].replace("-", "_"): value for name, value in zip(flags[::2], flags[1::2], strict=True)}


def _vllm_engine_config(model: str, base: RunConfig) -> EngineConfig | None:
    """The engine configuration the check runs `model` with, when that engine is vLLM (the one `auto`
    picks for an HF directory); None for the other engines."""
    config = base.override(engine={"model": model}).engine
    return config if pick_engine(config, resolve_model(model)) == "vllm" else None


def vllm_missing_for(model: str, base: RunConfig) -> bool:
    """Whether the check would run `model` on vLLM and vLLM is not installed here; the other engines'
    packages are aimo's own extras, installed with it."""
    return _vllm_engine_config(model, base) is not None and importlib.util.find_spec("vllm") is None


def vllm_gap_for(model: str, base: RunConfig, engine_flags: Sequence[str] = ()) -> str | None:
    """Why vLLM, installed here, cannot run `model` with these flags on this machine (its CPU build on
    a CPU without AVX-512), or None; known before anything is loaded or measured."""
    config = _vllm_engine_config(model, base)
    if config is None or importlib.util.find_spec("vllm") is None:
        return None
    from aimo.engines.vllm_cpu import cpu_gap

    return cpu_gap(model, {**config.vllm_args, **vllm_args_from_flags(engine_flags)})


async def measure(
    label: str,
    model: str,
    base: RunConfig,
    settings: CheckSettings,
    out: Path,
    progress: Progress = print,
    vllm_args: dict[str, object] | None = None,
) -> Side:
    """Evaluate `model` on the check dataset, then bench its engine, with one engine load.

    `vllm_args` are added to the configuration's own (the run directory's config.json records both)."""
    merged = {**base.engine.vllm_args, **(vllm_args or {})}
    config = base.override(engine={"model": model, "vllm_args": merged})
    session = start(EvalRequest(settings.dataset, config, out=out / label, limit=settings.limit))
    engine_config = config.engine.fitted(
        max(config.strategy.samples, *settings.concurrency),
        max(config.sampling.max_tokens, settings.bench_max_tokens),
    )
    async with open_engine(engine_config, progress=progress) as engine:
        progress(f"{label}: evaluating {model} on {settings.dataset} ({len(session.problems)} problems)")
        await execute(session, engine=engine, progress=progress)
        progress(f"{label}: measuring throughput at concurrency {list(settings.concurrency)}")
        bench = await bench_engine(engine, settings.concurrency, settings.bench_max_tokens, 0.7, 0)
    summary = analyze(session.run).summary
    metrics = {name: summary.metrics[name].value for name in SHOWN_METRICS if name in summary.metrics}
    tok_s = {int(row["concurrency"]): float(row["tok/s"]) for row in bench.rows}
    return Side(label, model, str(session.run.path), metrics, tok_s)


async def run_check(
    original: str,
    quantized: str,
    base: RunConfig,
    settings: CheckSettings,
    out: Path,
    progress: Progress = print,
    engine_flags: Sequence[str] = (),
) -> list[Side]:
    """Both sides, one after the other (the quantized one with its `engine_flags`, vLLM's command-line
    flags from the manifest); the result is also written to `out/check.json`."""
    quantized_args = vllm_args_from_flags(engine_flags)
    sides = [
        await measure("original", original, base, settings, out, progress),
        await measure("quantized", quantized, base, settings, out, progress, quantized_args),
    ]
    record = {
        "settings": asdict(settings),
        "quantized_engine_flags": list(engine_flags),
        "sides": [asdict(s) for s in sides],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / CHECK_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return sides


def check_result(sides: Sequence[Side], settings: CheckSettings) -> BenchResult:
    """The side-by-side table as a bench result (printed like `aimo bench`'s tables)."""
    result = BenchResult(
        name="quantize check",
        settings={**asdict(settings), "original": sides[0].model, "quantized": sides[1].model},
        rows=check_rows(sides),
    )
    result.notes.append(
        f"evaluation runs: {sides[0].run_dir} and {sides[1].run_dir}; tok/s @ N: aimo bench engine's "
        "output tokens per second with N concurrent streams"
    )
    return result


def check_rows(sides: Sequence[Side]) -> list[dict[str, Any]]:
    """The side-by-side table: one row per number, a column per side, and quantized / original."""
    before, after = sides
    names = [n for n in SHOWN_METRICS if n in before.metrics or n in after.metrics]
    rows = [_row(n, before.metrics.get(n), after.metrics.get(n)) for n in names]
    for level in sorted(set(before.tok_s) | set(after.tok_s)):
        rows.append(_row(f"tok/s @ {level}", before.tok_s.get(level), after.tok_s.get(level)))
    return rows


def _row(name: str, before: float | None, after: float | None) -> dict[str, Any]:
    ratio = after / before if before and after is not None else None
    return {"measure": name, "original": before, "quantized": after, "quantized/original": ratio}
