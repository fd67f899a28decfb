"""Options shared by the commands that run an engine (solve, eval, doctor, bench engine)."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from aimo.config import ConfigError, RunConfig
from aimo.engines.config import EngineConfig
from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig
from aimo.solve.stopping import StopRule, parse_stop_rules

R = TypeVar("R")


def config_help(model: type[BaseModel], name: str) -> str:
    """An option's help from its config field: the description and the default (one source for both)."""
    field = model.model_fields[name]
    default = field.get_default(call_default_factory=True)
    return f"{field.description}" + ("" if default in (None, "") else f" (default {default})") + "."


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML file with engine, sampling, strategy, budget and sandbox tables; flags override it.",
    ),
]
EngineOpt = Annotated[str | None, typer.Option(help=config_help(EngineConfig, "engine"))]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="GGUF file, model dir, hub id org/name, "
        "server URL(s) separated by commas, or a built-in model name.",
    ),
]
ApiOpt = Annotated[
    str | None,
    typer.Option(help="openai engine: chat | completions (completions renders the chat template in aimo)."),
]
ChatTemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--chat-template",
        help="Chat template aimo renders for the completions API: a GGUF file, model directory, "
        "template file or hub id, or 'harmony' for gpt-oss. Implies --api completions unless --api is given.",
    ),
]
ReasoningEffortOpt = Annotated[
    str | None, typer.Option(help="gpt-oss reasoning effort: low | medium | high (default high).")
]
ExtraBodyOpt = Annotated[
    str | None,
    typer.Option(help="openai engine: JSON fields added to every request, e.g. '{\"top_k\": 20}'."),
]
TracesOpt = Annotated[Path | None, typer.Option(help="Recorded samples for --engine replay.")]
SamplesOpt = Annotated[
    int | None, typer.Option("--samples", "-n", help=config_help(StrategyConfig, "samples"))
]
MaxTokensOpt = Annotated[int | None, typer.Option(help=config_help(SamplingConfig, "max_tokens"))]
TemperatureOpt = Annotated[float | None, typer.Option(help=config_help(SamplingConfig, "temperature"))]
SeedOpt = Annotated[int | None, typer.Option(help=config_help(SamplingConfig, "seed"))]
StrategyOpt = Annotated[str | None, typer.Option(help=config_help(StrategyConfig, "strategy"))]
CodeRoundsOpt = Annotated[int | None, typer.Option(help=config_help(StrategyConfig, "code_rounds"))]
StopRulesOpt = Annotated[
    str | None, typer.Option(help='Early stopping, e.g. "4/4,4/5,5/7,6/9", "unbeatable", "sprt".')
]
VoteOpt = Annotated[
    str | None,
    typer.Option(
        help='Vote weights, e.g. "code_verified=2,entropy,'
        'length_power=0.5,small_number_penalty=0.5" (default: majority).'
    ),
]
RecordLogprobsOpt = Annotated[
    bool | None,
    typer.Option(
        "--record-logprobs",
        help="Keep every sample's per-token top log-probabilities in its record, so the run replays "
        "with confidences (large records).",
    ),
]
TimeBudgetOpt = Annotated[float | None, typer.Option(help=config_help(BudgetConfig, "total_s"))]
ThroughputOpt = Annotated[
    Path | None,
    typer.Option(
        help="An `aimo bench engine --json` result: the engine's speed the time planner starts from; "
        "with --engine replay also the speed recordings play at (total tok/s by concurrency)."
    ),
]

IdFieldOpt = Annotated[str | None, typer.Option(help="Field holding the problem id.")]
TextFieldOpt = Annotated[str | None, typer.Option(help="Field holding the problem text.")]
AnswerFieldOpt = Annotated[str | None, typer.Option(help="Field holding the gold answer.")]


def build_config(
    config: Path | None,
    *,
    engine: str | None = None,
    model: str | None = None,
    api: str | None = None,
    chat_template: str | None = None,
    reasoning_effort: str | None = None,
    extra_body: str | None = None,
    traces: Path | None = None,
    samples: int | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    strategy: str | None = None,
    code_rounds: int | None = None,
    stop_rules: str | None = None,
    vote: str | None = None,
    record_logprobs: bool | None = None,
    time_budget: float | None = None,
    throughput: Path | None = None,
) -> RunConfig:
    """The run configuration: the TOML file (if any) with the given flags on top."""
    engine_values: dict[str, object] = {
        "engine": engine,
        "traces": str(traces) if traces else None,
        "api": api or ("completions" if chat_template else None),
        "chat_template": chat_template,
        "reasoning_effort": reasoning_effort,
        "extra_body": _json_object("--extra-body", extra_body),
        "replay_throughput": str(throughput) if throughput and (engine == "replay" or traces) else None,
    }
    if model and "," in model:
        engine_values["base_urls"] = [u.strip() for u in model.split(",") if u.strip()]
    else:
        engine_values["model"] = model
    rules = None if stop_rules is None else stop_rules_option("--stop-rules", stop_rules)
    return RunConfig.load(config).override(
        engine=engine_values,
        sampling={"max_tokens": max_tokens, "temperature": temperature, "seed": seed},
        strategy={
            "samples": samples,
            "strategy": strategy,
            "code_rounds": code_rounds,
            "stop_rules": rules,
            "vote": parse_vote(vote) if vote is not None else None,
            "record_logprobs": record_logprobs or None,
        },
        budget={"total_s": time_budget, "throughput": str(throughput) if throughput else None},
    )


def stop_rules_option(flag: str, spec: str) -> list[StopRule]:
    """A flag's stop rules spec as rules; a clear error naming the flag when it cannot be read."""
    try:
        return parse_stop_rules(spec)
    except ValueError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def _json_object(flag: str, text: str | None) -> dict[str, object] | None:
    """A flag's JSON object, or None when the flag is not given; a clear error when it is not one."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{flag}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: expected a JSON object like '{{\"top_k\": 20}}'")
    return value


def parse_vote(spec: str) -> dict[str, object]:
    """`"majority"` or `"code_verified=2,entropy,length_power=0.5"` → VoteConfig fields."""
    fields: dict[str, object] = {}
    for part in (p.strip() for p in spec.split(",")):
        if part and part != "majority":
            name, _, value = part.partition("=")
            fields[name.strip()] = value.strip() if value else True
    return fields


RUN_OPTIONS: dict[str, Any] = {
    "config": ConfigOpt,
    "engine": EngineOpt,
    "model": ModelOpt,
    "api": ApiOpt,
    "chat_template": ChatTemplateOpt,
    "reasoning_effort": ReasoningEffortOpt,
    "extra_body": ExtraBodyOpt,
    "traces": TracesOpt,
    "samples": SamplesOpt,
    "max_tokens": MaxTokensOpt,
    "temperature": TemperatureOpt,
    "seed": SeedOpt,
    "strategy": StrategyOpt,
    "code_rounds": CodeRoundsOpt,
    "stop_rules": StopRulesOpt,
    "vote": VoteOpt,
    "record_logprobs": RecordLogprobsOpt,
    "time_budget": TimeBudgetOpt,
    "throughput": ThroughputOpt,
}


def with_run_options(command: Callable[..., R]) -> Callable[..., R]:
    """Give a Typer command the shared run options (`RUN_OPTIONS`, after its own parameters).

    The command declares `run_config: RunConfig` (the TOML file with the flags on top) and
    `run_flags: dict[str, Any]` (the options the user gave, by name) instead of the options."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name not in ("run_config", "run_flags")]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        for name, annotation in RUN_OPTIONS.items()
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> R:
        flags = {name: kwargs.pop(name) for name in RUN_OPTIONS}
        given = {name: value for name, value in flags.items() if value is not None}
        run_config = build_config(flags.pop("config"), **flags)
        return command(**kwargs, run_config=run_config, run_flags=given)

    wrapper.__signature__ = signature.replace(parameters=own + shared)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + shared}
    return wrapper
