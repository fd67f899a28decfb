"""`aimo data sft|dpo|kto|grpo` (training datasets from runs and traces) and `aimo data scheduler`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from aimo.cli.grade_cmd import ModeChoice
from aimo.cli.options import stop_rules_option
from aimo.data.build import Output, build_rows, resolve_preset
from aimo.data.formats import dataset_info, write_jsonl
from aimo.data.graded import load_many, with_texts
from aimo.data.presets import presets_for
from aimo.data.scheduler import TokenScheduler, fit_scheduler
from aimo.problems import load_problems

err = Console(stderr=True)

Inputs = Annotated[
    list[Path], typer.Argument(help="aimo eval run directories and/or trace files (FILE#RUN for ConSol).")
]
OutFile = Annotated[Path, typer.Option("--out", "-o", help="The JSONL file to write.")]
Mode = Annotated[ModeChoice, typer.Option(help="Grading: integer, math, or auto (integer when gold is).")]
FormatOption = Annotated[
    str, typer.Option("--format", help="trl or llamafactory (also writes dataset_info.json).")
]
NoSystem = Annotated[bool, typer.Option("--no-system", help="Leave aimo's system message out of prompts.")]
MinRate = Annotated[float | None, typer.Option(help="Keep problems with at least this pass rate.")]
MaxRate = Annotated[float | None, typer.Option(help="Keep problems with at most this pass rate.")]
MinTokens = Annotated[int | None, typer.Option(help="Keep samples with at least this many tokens.")]
MaxTokens = Annotated[int | None, typer.Option(help="Keep samples with at most this many tokens.")]
Kinds = Annotated[str | None, typer.Option(help="Prompt kinds to keep: cot, tir or cot,tir.")]
Dedupe = Annotated[
    float | None,
    typer.Option(help="Drop problems at least this similar (word-trigram Jaccard) to an earlier one."),
]


def _preset_help(kind: str) -> str:
    return f"Recipe: {', '.join(presets_for(kind))} (docs/training.md)."


def sft(
    inputs: Inputs,
    out: OutFile,
    preset: Annotated[str | None, typer.Option(help=_preset_help("sft"))] = None,
    mode: Mode = ModeChoice.auto,
    format_: FormatOption = "trl",
    no_system: NoSystem = False,
    prompt_completion: Annotated[
        bool, typer.Option(help="prompt + completion columns, not messages.")
    ] = False,
    min_pass_rate: MinRate = None,
    max_pass_rate: MaxRate = None,
    min_tokens: MinTokens = None,
    max_tokens: MaxTokens = None,
    kinds: Kinds = None,
    per_problem: Annotated[
        int | None, typer.Option(help="Correct samples per problem, shortest first.")
    ] = None,
    dedupe: Dedupe = None,
) -> None:
    """Supervised fine-tuning data: correct samples (shortest per problem), difficulty and length filters."""
    output = Output(format_, not no_system, prompt_completion)  # type: ignore[arg-type]
    preset_ = resolve_preset(
        preset, "sft", min_pass_rate=min_pass_rate, max_pass_rate=max_pass_rate, min_tokens=min_tokens,
        max_tokens=max_tokens, kinds=_kinds(kinds), per_problem=per_problem, dedupe=dedupe,
    )  # fmt: skip
    _run(inputs, out, mode, preset_, output)


def dpo(
    inputs: Inputs,
    out: OutFile,
    preset: Annotated[str | None, typer.Option(help=_preset_help("dpo"))] = None,
    mode: Mode = ModeChoice.auto,
    format_: FormatOption = "trl",
    no_system: NoSystem = False,
    pairs: Annotated[str | None, typer.Option(help="shorter (both correct) or correct-wrong.")] = None,
    ratio: Annotated[float | None, typer.Option(help="len(chosen) < ratio x len(rejected).")] = None,
    min_chosen_tokens: Annotated[int | None, typer.Option(help="len(chosen) > this.")] = None,
    max_similarity: Annotated[
        float | None, typer.Option(help="Embedding cosine similarity of a pair below this.")
    ] = None,
    pairs_per_problem: Annotated[
        int | None, typer.Option(help="At most this many pairs per problem.")
    ] = None,
    min_pass_rate: MinRate = None,
    max_pass_rate: MaxRate = None,
    kinds: Kinds = None,
    dedupe: Dedupe = None,
) -> None:
    """Preference pairs: shorter vs longer correct solutions (AIMO-2 2nd place), or correct vs wrong."""
    preset_ = resolve_preset(
        preset, "dpo", mode=pairs, ratio=ratio, min_tokens=min_chosen_tokens, max_similarity=max_similarity,
        per_problem=None, dedupe=dedupe, min_pass_rate=min_pass_rate, max_pass_rate=max_pass_rate,
        kinds=_kinds(kinds),
    )  # fmt: skip
    if pairs_per_problem is not None and preset_.rule is not None:
        preset_ = replace(preset_, rule=replace(preset_.rule, per_problem=pairs_per_problem))
    _run(inputs, out, mode, preset_, Output(format_, not no_system))  # type: ignore[arg-type]


def kto(
    inputs: Inputs,
    out: OutFile,
    preset: Annotated[str | None, typer.Option(help=_preset_help("kto"))] = None,
    mode: Mode = ModeChoice.auto,
    format_: FormatOption = "trl",
    no_system: NoSystem = False,
    balance: Annotated[
        bool | None, typer.Option(help="As many wrong as correct samples per problem.")
    ] = None,
    kinds: Kinds = None,
    dedupe: Dedupe = None,
) -> None:
    """Every graded sample with label = correct (Numina's on-policy KTO)."""
    preset_ = resolve_preset(preset, "kto", balance=balance, kinds=_kinds(kinds), dedupe=dedupe)
    _run(inputs, out, mode, preset_, Output(format_, not no_system))  # type: ignore[arg-type]


def grpo(
    inputs: Inputs,
    out: OutFile,
    preset: Annotated[str | None, typer.Option(help=_preset_help("grpo"))] = None,
    mode: Mode = ModeChoice.auto,
    no_system: NoSystem = False,
    min_pass_rate: MinRate = None,
    max_pass_rate: MaxRate = None,
    dedupe: Dedupe = None,
) -> None:
    """Prompts with gold answers for GRPO (aimo.data.rewards score the completions)."""
    preset_ = resolve_preset(
        preset, "grpo", min_pass_rate=min_pass_rate, max_pass_rate=max_pass_rate, dedupe=dedupe
    )
    _run(inputs, out, mode, preset_, Output("trl", not no_system))


def _kinds(kinds: str | None) -> tuple[str, ...] | None:
    return None if kinds is None else tuple(k.strip() for k in kinds.split(",") if k.strip())


def _run(inputs: list[Path], out: Path, mode: ModeChoice, preset: Any, output: Output) -> None:
    if output.flavor not in ("trl", "llamafactory"):
        raise typer.BadParameter("--format is trl or llamafactory")
    problems = load_many(inputs, mode.value)
    count = write_jsonl(out, build_rows(problems, preset, output))
    if output.flavor == "llamafactory":
        info = out.parent / "dataset_info.json"
        known = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}
        info.write_text(json.dumps(known | dataset_info(out, preset.kind), indent=2) + "\n", encoding="utf-8")
    err.print(f"{count} {preset.kind} rows from {len(problems)} problems -> {out}")


def scheduler_fit(
    inputs: Inputs,
    out: OutFile,
    mode: Mode = ModeChoice.auto,
    texts: Annotated[
        Path | None,
        typer.Option(help="Problem file giving texts to traces without them (by id, else unique gold)."),
    ] = None,
) -> None:
    """Fit the token scheduler (problem text -> tokens to answer, pass rate) and save it as JSON."""
    problems = load_many(inputs, mode.value)
    if texts is not None:
        problems = with_texts(problems, load_problems(texts))
    fit = fit_scheduler(problems)
    fit.scheduler.save(out)
    err.print(
        f"fitted on {fit.scheduler.problems} problems; leave-one-out |log tokens error| "
        f"{fit.loo_log_error():.3f} (constant guess {fit.baseline_log_error():.3f}) -> {out}"
    )


def scheduler_predict(
    scheduler: Annotated[Path, typer.Argument(help="A file from `aimo data scheduler fit`.")],
    problems: Annotated[Path, typer.Argument(help="A problem file (JSONL, JSON, CSV, Parquet).")],
) -> None:
    """Print each problem's predicted tokens, pass rate and time weight, one JSON line each."""
    model = TokenScheduler.load(scheduler)
    items = load_problems(problems)
    for problem, p in zip(items, model.predict([q.text for q in items]), strict=True):
        row = {"id": problem.id, "tokens": round(p.tokens), "pass_rate": round(p.pass_rate, 3)}
        typer.echo(json.dumps(row | {"weight": round(model.weight(p.tokens), 3)}))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Training data, reward functions' datasets and the token scheduler.", no_args_is_help=True
    )
    for command in (sft, dpo, kto, grpo):
        data_app.command()(command)
    scheduler_app = typer.Typer(
        help="The token scheduler: tokens and pass rate from problem text.", no_args_is_help=True
    )
    scheduler_app.command("fit")(scheduler_fit)
    scheduler_app.command("predict")(scheduler_predict)
    scheduler_app.command("compare")(scheduler_compare)
    data_app.add_typer(scheduler_app, name="scheduler")
    app.add_typer(data_app, name="data")


def scheduler_compare(
    inputs: Inputs,
    texts: Annotated[
        Path | None,
        typer.Option(help="Problem file giving texts to traces without them (by id, else unique gold)."),
    ] = None,
    per_problem: Annotated[list[float] | None, typer.Option(help="Seconds per problem (repeat).")] = None,
    mode: Mode = ModeChoice.auto,
    runs: Annotated[int, typer.Option(help="Simulated runs per budget.")] = 1000,
    samples: Annotated[int, typer.Option(help="Samples per problem.")] = 16,
    stop: Annotated[str, typer.Option(help="Stop rules of each problem.")] = "4/4,4/5,5/7,6/9",
    tokens_per_s: Annotated[float, typer.Option(help="Decode speed of one sample.")] = 40.0,
) -> None:
    """Simulated competitions on recorded samples (with token counts): the scheduler's time weights
    (leave-one-out) vs the fair share."""
    from aimo.data.allocation import as_traces, compare_allocation, format_allocation
    from aimo.solve.config import BudgetConfig
    from aimo.solve.simulate import CompetitionSetup

    problems = load_many(inputs, mode.value)
    if texts is not None:
        problems = with_texts(problems, load_problems(texts))
    fit = fit_scheduler(problems)
    budget = BudgetConfig(total_s=1.0, reserve_s=10.0, fallback_s=1.0)
    rules = stop_rules_option("--stop", stop)
    setup = CompetitionSetup(budget, runs=runs, samples=samples, stop=rules, tokens_per_s=tokens_per_s)
    rows = compare_allocation(as_traces(problems), fit, setup, per_problem or [30.0, 60.0, 90.0])
    typer.echo(format_allocation(rows, fit))
