"""`aimo bench engine`, `aimo bench harness` and `aimo bench compare`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from aimo.bench.result import BenchResult
from aimo.cli.options import ConfigOpt, EngineOpt, ModelOpt, SeedOpt, TemperatureOpt, TracesOpt, build_config
from aimo.engines.base import Engine
from aimo.engines.config import EngineConfig
from aimo.errors import AimoError

err = Console(stderr=True)
out = Console()

JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here too.")]
BenchMaxTokensOpt = Annotated[int, typer.Option(min=1, help="Token cap per stream or sample.")]
CONCURRENCY_HELP = (
    "Concurrent streams per level: `--concurrency 1 2 4 8`, `--concurrency 1,2,4,8`, or the option repeated."
)


def parse_concurrency(values: list[str], extra: list[str]) -> list[int]:
    """Levels from `--concurrency` values (commas allowed) and the bare numbers that followed them."""
    levels: list[int] = []
    for value in [*values, *extra]:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                level = int(part)
            except ValueError:
                raise typer.BadParameter(
                    f"not a concurrency level: {part!r}", param_hint="--concurrency"
                ) from None
            if level < 1:
                raise typer.BadParameter("concurrency levels must be at least 1", param_hint="--concurrency")
            levels.append(level)
    if not levels:
        raise typer.BadParameter("give at least one level", param_hint="--concurrency")
    return sorted(set(levels))


def default_traces() -> Path:
    """math_cot_100.jsonl in the shared data folder (see `shared_data_dir`)."""
    from aimo.solve.simulate import shared_data_dir

    return shared_data_dir() / "traces" / "math_cot_100.jsonl"


def describe_engine(engine: Engine, config: EngineConfig) -> dict[str, Any]:
    """What a result must carry to be compared later: which engine and model, and how it was set up."""
    from aimo.models import default_model_name

    described: dict[str, Any] = {"engine": engine.name, "model": config.model or default_model_name()}
    if config.base_urls:
        described["model"] = ",".join(config.base_urls)
    for attr in ("model_path", "n_threads", "n_ctx", "max_sequences", "base_urls", "model"):
        value = getattr(engine, attr, None)
        if value is not None and not callable(value):
            described[attr] = value
    return described


def _emit(result: BenchResult, json_out: Path | None) -> None:
    result.print(out)
    if json_out is not None:
        result.write(json_out)
        err.print(f"[dim]wrote {json_out}[/dim]")


def bench_engine_command(
    ctx: typer.Context,
    concurrency: Annotated[list[str], typer.Option(help=CONCURRENCY_HELP)] = ["1,2,4,8,16,32,64"],  # noqa: B006
    max_tokens: BenchMaxTokensOpt = 512,
    temperature: TemperatureOpt = 0.7,
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    engine: EngineOpt = None,
    model: ModelOpt = None,
    json_out: JsonOpt = None,
    plot: Annotated[Path | None, typer.Option(help="Write an SVG chart of tok/s per level here.")] = None,
) -> None:
    """Output tok/s and time to first token at each concurrency, and where throughput saturates."""
    from aimo.bench.bars import terminal_bars
    from aimo.bench.engine import bench_engine
    from aimo.engines.factory import open_engine
    from aimo.svg import Series, line_chart

    levels = parse_concurrency(concurrency, ctx.args)
    run_config = build_config(config, engine=engine, model=model)
    engine_config = run_config.engine.fitted(max(levels), max_tokens)

    async def go() -> BenchResult:
        from aimo.engines.throughput import ThroughputCurve
        from aimo.solve import measurements

        async with open_engine(engine_config, progress=lambda m: err.print(f"[dim]{m}[/dim]")) as opened:
            with err.status(f"measuring concurrency {levels}…"):
                result = await bench_engine(
                    opened,
                    levels,
                    max_tokens,
                    temperature or 0.0,
                    seed or 0,
                    settings=describe_engine(opened, engine_config),
                )
            # The time planner of later runs on this engine, model and machine starts from this curve.
            measurements.save(measurements.engine_key(opened), ThroughputCurve.from_rows(result.rows), [])
            return result

    result = asyncio.run(go())
    _emit(result, json_out)
    labels = [f"c={row['concurrency']}" for row in result.rows]
    out.print(terminal_bars(labels, [row["tok/s"] for row in result.rows], unit=" tok/s"), highlight=False)
    if plot is not None:
        xs = [row["concurrency"] for row in result.rows]
        title = f"{result.settings['engine']} {Path(str(result.settings.get('model', ''))).name}"
        tok_s = Series("output tok/s", xs, [r["tok/s"] for r in result.rows])
        chart = line_chart([tok_s], x_label="concurrency", y_label="tok/s", log2_x=True, title=title)
        plot.write_text(chart)
        err.print(f"[dim]wrote {plot}[/dim]")


def bench_harness_command(
    traces: TracesOpt = None,
    efficiency: Annotated[
        bool, typer.Option(help="Also measure the solve path against the bare engine (loads a model).")
    ] = True,
    config: ConfigOpt = None,
    engine: EngineOpt = None,
    model: ModelOpt = None,
    samples: Annotated[
        int, typer.Option("--samples", "-n", min=1, help="Samples (streams) per problem.")
    ] = 8,
    max_tokens: BenchMaxTokensOpt = 512,
    temperature: TemperatureOpt = 0.7,
    seed: SeedOpt = 0,
    problems: Annotated[int, typer.Option(min=1, max=4, help="Fixed problems to generate for.")] = 2,
    repeats: Annotated[int, typer.Option(min=1, help="Measurements of each side (order alternates).")] = 2,
    scan_repeats: Annotated[int, typer.Option(min=1, help="Passes over the trace file.")] = 1,
    chunk_tokens: Annotated[
        int, typer.Option(min=1, help="Tokens per replayed chunk (engines stream 1).")
    ] = 1,
    json_out: JsonOpt = None,
) -> None:
    """Scanning capacity (tok/s per core) and the solve path's tok/s over the bare engine's."""
    from aimo.bench.harness import bench_harness
    from aimo.engines.factory import open_engine

    trace_file = traces if traces is not None else default_traces()
    run_config = build_config(
        config, engine=engine, model=model, max_tokens=max_tokens, temperature=temperature, seed=seed
    )
    sampling = run_config.sampling

    async def go() -> BenchResult:
        if not efficiency:
            return await bench_harness(trace_file, scan_repeats=scan_repeats, chunk_tokens=chunk_tokens)
        engine_config = run_config.engine.fitted(samples, max_tokens)
        async with open_engine(engine_config, progress=lambda m: err.print(f"[dim]{m}[/dim]")) as opened:
            with err.status("measuring the bare engine and the solve path…"):
                return await bench_harness(
                    trace_file,
                    opened,
                    sampling,
                    samples=samples,
                    problems=problems,
                    repeats=repeats,
                    scan_repeats=scan_repeats,
                    chunk_tokens=chunk_tokens,
                    settings=describe_engine(opened, engine_config),
                )

    _emit(asyncio.run(go()), json_out)


def bench_compare_command(
    a: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Result A (JSON of --json).")],
    b: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Result B, compared with A.")],
    columns: Annotated[
        str | None,
        typer.Option(help='Only these numeric columns, comma-separated (e.g. "tok/s,ttft p50 s").'),
    ] = None,
    json_out: JsonOpt = None,
) -> None:
    """Two results side by side: rows matched by their key, each number as A, B and B/A."""
    from aimo.bench.ratios import compare

    try:
        first, second = BenchResult.read(a), BenchResult.read(b)
    except (ValueError, TypeError, KeyError) as exc:
        raise AimoError(f"not a benchmark result: {exc}") from None
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    _emit(compare(first, second, chosen), json_out)


def bench_openai_command(
    url: Annotated[
        str, typer.Argument(help="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
    ],
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved rounds of each client.")] = 3,
    concurrency: Annotated[int, typer.Option(min=1, help="Concurrent requests per round.")] = 1,
    max_tokens: Annotated[int, typer.Option(min=1, help="Token cap per request.")] = 128,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")] = None,
) -> None:
    """tok/s through the openai engine vs the same server called by a bare HTTP client, same run."""
    from aimo.bench.overhead import measure_overhead

    with err.status("measuring the bare client and the openai engine…"):
        result = asyncio.run(
            measure_overhead(url, rounds=rounds, concurrency=concurrency, max_tokens=max_tokens)
        )
    _emit(result, json_out)


def bench_client_command(
    streams: Annotated[list[str], typer.Option(help=CONCURRENCY_HELP)] = ["64,256"],  # noqa: B006
    chunks: Annotated[int, typer.Option(min=1, help="Content chunks per streamed response.")] = 1000,
    seconds: Annotated[float, typer.Option(min=0.1, help="Seconds per round and client.")] = 3.0,
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved rounds of each client.")] = 2,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")] = None,
) -> None:
    """The openai engine's ceiling: chunks/s from a local no-model server vs a bare client, same run."""
    from aimo.bench.client import measure_client

    levels = parse_concurrency(streams, [])
    with err.status(f"streaming chunks at {levels} streams…"):
        result = asyncio.run(measure_client(levels, chunks=chunks, seconds=seconds, rounds=rounds))
    _emit(result, json_out)


def bench_eval_command(
    dataset: Annotated[str, typer.Argument(help="Problem file or dataset name (as `aimo eval` takes).")],
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Samples in flight (default: what saturates the engine, as in aimo eval)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N problems.")] = None,
    samples: Annotated[int, typer.Option("--samples", "-n", min=1, help="Samples per problem.")] = 8,
    max_tokens: BenchMaxTokensOpt = 512,
    seed: SeedOpt = 0,
    unseeded: Annotated[
        bool,
        typer.Option(
            help="openai engine: send `seed: null` (vLLM CPU 0.32 dies on seeded requests: "
            "'CPU Generator does not use offset')."
        ),
    ] = False,
    sequential: Annotated[
        bool, typer.Option(help="Also time the one-problem-at-a-time evaluation (the plain alternative).")
    ] = True,
    config: ConfigOpt = None,
    engine: EngineOpt = None,
    model: ModelOpt = None,
    json_out: JsonOpt = None,
) -> None:
    """tok/s of `aimo eval` over the engine's own tok/s at the same in-flight count, in one run."""
    from aimo.bench.evalspeed import bench_eval
    from aimo.engines.factory import open_engine
    from aimo.evaluate.datasets import resolve_dataset

    run_config = build_config(
        config, engine=engine, model=model, samples=samples, max_tokens=max_tokens, seed=seed
    )
    problems = resolve_dataset(dataset, run_config.engine.traces).problems[:limit]
    k = concurrency or run_config.engine.saturating_concurrency()
    engine_config = run_config.engine_for_run(k)
    if unseeded:
        engine_config = engine_config.model_copy(
            update={"extra_body": {**engine_config.extra_body, "seed": None}}
        )

    async def go() -> BenchResult:
        async with open_engine(engine_config, progress=lambda m: err.print(f"[dim]{m}[/dim]")) as opened:
            with err.status(f"engine alone and aimo eval at {k} in flight…"):
                return await bench_eval(
                    opened, run_config, problems, k, sequential, describe_engine(opened, engine_config)
                )

    _emit(asyncio.run(go()), json_out)


def bench_budget_command(
    data: Annotated[
        Path | None, typer.Option(help="Problem file to draw from (default: the shared MATH test set).")
    ] = None,
    problems: Annotated[int, typer.Option(min=1, help="Problems in the seeded draw.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the draw.")] = 2026,
    levels: Annotated[str, typer.Option(help="MATH levels to draw from, e.g. 1,2,3.")] = "1,2,3",
    factors: Annotated[
        str, typer.Option(help="aimo's budgets as multiples of the plain pass's time.")
    ] = "0.5,1,2",
    max_tokens: Annotated[int, typer.Option(min=1, help="Token cap of the plain pass.")] = 1024,
    config: ConfigOpt = None,
    model: ModelOpt = None,
    json_out: JsonOpt = None,
    plot: Annotated[Path | None, typer.Option(help="Write an SVG chart of score against time here.")] = None,
) -> None:
    """aimo under a time budget vs the plain single greedy pass of the same model, in the same run."""
    from aimo.bench.budget import bench_budget, budget_chart, draw_problems
    from aimo.models import resolve_model
    from aimo.solve.simulate import shared_data_dir

    try:
        level_list = [int(x) for x in levels.split(",") if x.strip()]
        factor_list = [float(x) for x in factors.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter("levels and factors are comma-separated numbers") from None
    run_config = build_config(config, model=model)
    resolved = resolve_model(run_config.engine.model, progress=lambda m: err.print(f"[dim]{m}[/dim]"))
    if resolved.kind != "gguf":
        raise AimoError(f"aimo bench budget runs llama.cpp on a GGUF file; {resolved.location} is not one")
    source = data or shared_data_dir() / "sets" / "math_test.jsonl"
    drawn = draw_problems(source, problems, seed, level_list)
    run_config = run_config.override(engine={"model": resolved.location})
    result = bench_budget(
        resolved.location,
        drawn,
        run_config,
        factor_list,
        max_tokens=max_tokens,
        progress=lambda m: err.print(f"[dim]{m}[/dim]"),
        settings={"data": str(source), "seed": seed, "levels": level_list},
        on_pass=(lambda partial: partial.write(json_out)) if json_out else None,
    )
    _emit(result, json_out)
    if plot is not None:
        plot.write_text(budget_chart(result))
        err.print(f"[dim]wrote {plot}[/dim]")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add `aimo bench engine`, `harness`, `openai` and `compare`."""
    bench_app.command("engine", context_settings={"allow_extra_args": True})(bench_engine_command)
    bench_app.command("harness")(bench_harness_command)
    bench_app.command("openai")(bench_openai_command)
    bench_app.command("client")(bench_client_command)
    bench_app.command("eval")(bench_eval_command)
    bench_app.command("compare")(bench_compare_command)
    bench_app.command("budget")(bench_budget_command)
