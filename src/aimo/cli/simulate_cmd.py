"""`aimo simulate`: tune stopping rules and the time manager offline, on recorded samples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aimo.cli.options import parse_vote, stop_rules_option
from aimo.engines.traces import TraceProblem, load_traces
from aimo.solve.bound import fewest_tokens
from aimo.solve.confidence import OnlineConfidence
from aimo.solve.config import BudgetConfig
from aimo.solve.simulate import (
    CONSOL_FILE,
    CONSOL_VOTE_RUN,
    DEFAULT_RULES,
    CompetitionSetup,
    format_competition_table,
    format_rule_table,
    recorded_grade,
    replay_rule,
    replay_rules,
    shared_data_dir,
    simulate_competition,
)
from aimo.solve.voting import VoteConfig

out = Console()
TracesArg = Annotated[
    Path | None,
    typer.Option(
        help=f"Trace file (FILE or FILE#RUN); default: ../shared/data/{CONSOL_FILE}#{CONSOL_VOTE_RUN}."
    ),
]


def _traces(traces: Path | None):
    return load_traces(traces or f"{shared_data_dir() / CONSOL_FILE}#{CONSOL_VOTE_RUN}")


def stopping(
    traces: TracesArg = None,
    rules: Annotated[
        list[str] | None, typer.Option("--rules", help="Rule specs to compare (repeat).")
    ] = None,
    samples: Annotated[int | None, typer.Option(help="Use at most this many samples per problem.")] = None,
    concurrent: Annotated[bool, typer.Option(help="All samples at once: shortest answers first.")] = False,
    width: Annotated[
        int | None,
        typer.Option(
            min=1, help="Samples running at once (a new one starts when one ends); 1: sampling order."
        ),
    ] = None,
    vote: Annotated[
        str | None,
        typer.Option(
            help='Vote weights, as `aimo solve --vote`, e.g. "confidence=lowest_group,keep_top=10".'
        ),
    ] = None,
    online: Annotated[
        str | None,
        typer.Option(
            help='DeepConf online on traces with recorded logprobs: "warmup=16,keep=90,window=2048"; '
            "scope=run: one threshold from the first problems' samples for all after; "
            "warmup_on=first_window: each problem's samples set its threshold at their first window."
        ),
    ] = None,
    bound: Annotated[
        bool,
        typer.Option(
            help="Also print the fewest tokens any stop rule could spend for majority's accuracy "
            "(a rule that knows the answers)."
        ),
    ] = False,
) -> None:
    """Accuracy and tokens of stopping rules applied to recorded samples (vs plain majority)."""
    problems = _traces(traces)
    try:
        vote_config = VoteConfig.model_validate(parse_vote(vote)) if vote else None
        online_config = OnlineConfidence(**_online(online)) if online else None  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc).splitlines()[0]) from None
    outcomes = replay_rules(
        problems,
        rules or DEFAULT_RULES,
        max_samples=samples,
        concurrent=concurrent,
        width=width,
        vote=vote_config,
        online=online_config,
    )
    out.print(format_rule_table(outcomes), highlight=False, markup=False, soft_wrap=True)
    if bound:
        out.print(_bound_line(problems, samples, None if concurrent and not width else width or 1))


def _bound_line(problems: Sequence[TraceProblem], samples: int | None, width: int | None) -> str:
    """The oracle bound (`aimo.solve.bound`) at plain majority's accuracy, as one line."""
    majority = replay_rule(problems, "", max_samples=samples)
    limit = fewest_tokens(problems, majority.correct, width, recorded_grade, samples)
    goal = f"majority's accuracy {majority.accuracy:.3f}"
    if limit.tokens is None:
        return f"bound: no stop rule reaches {goal}"
    saved = 1 - limit.tokens / majority.tokens if majority.tokens else 0.0
    return (
        f"bound: any stop rule needs at least {limit.tokens:,} tokens for {goal} "
        f"({saved:.0%} fewer than {majority.rule}, a rule that knows the answers)"
    )


def _online(spec: str) -> dict[str, float | str]:
    """`"warmup=16,keep=90,scope=run"` → {"warmup": 16, "keep": 90.0, "scope": "run"} (whole numbers
    as int)."""
    values: dict[str, float | str] = {}
    for name, value in parse_vote(spec).items():
        if name in ("scope", "warmup_on"):
            values[name] = str(value)
            continue
        number = float(str(value))
        values[name] = int(number) if number.is_integer() and name != "keep" else number
    return values


def budget(
    traces: TracesArg = None,
    per_problem: Annotated[list[float] | None, typer.Option(help="Seconds per problem (repeat).")] = None,
    runs: Annotated[int, typer.Option(help="Simulated runs per budget.")] = 1000,
    samples: Annotated[int, typer.Option(help="Samples per problem.")] = 16,
    stop: Annotated[str, typer.Option(help="Stop rules of each problem.")] = "4/4,4/5,5/7,6/9",
    tokens_per_s: Annotated[float, typer.Option(help="Decode speed of one sample.")] = 40.0,
) -> None:
    """Simulated competition runs (random order and durations): time manager vs an equal split."""
    problems = _traces(traces)
    rows = []
    for seconds in per_problem or [30.0, 60.0, 90.0]:
        config = BudgetConfig(total_s=seconds * len(problems), reserve_s=10.0, fallback_s=1.0)
        setup = CompetitionSetup(
            budget=config,
            runs=runs,
            samples=samples,
            stop=stop_rules_option("--stop", stop),
            tokens_per_s=tokens_per_s,
        )
        rows.append((seconds, simulate_competition(problems, setup)))
    out.print(format_competition_table(rows), highlight=False)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    simulate_app = typer.Typer(
        help="Tune stopping rules and the time manager on recorded samples.", no_args_is_help=True
    )
    simulate_app.command()(stopping)
    simulate_app.command()(budget)
    app.add_typer(simulate_app, name="simulate")
