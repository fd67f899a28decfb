"""From graded problems to dataset rows, by preset with overrides: what `aimo data` runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aimo.data.embed import cosine_matrix, sentence_embedder
from aimo.data.formats import Flavor, Row, dpo_row, grpo_row, kto_row, sft_row
from aimo.data.graded import DataError, GradedProblem
from aimo.data.pairs import Similarity, dpo_pairs, kto_samples
from aimo.data.presets import PRESETS, Preset
from aimo.data.select import dedupe_problems, select_sft


@dataclass(frozen=True)
class Output:
    """How rows are written: which tool reads them, and whether prompts keep aimo's system message."""

    flavor: Flavor = "trl"
    system: bool = True
    prompt_completion: bool = False  # SFT: prompt + completion columns instead of messages


def resolve_preset(name: str | None, kind: str, **overrides: Any) -> Preset:
    """The preset `name` (or the plain default of `kind`), with the non-None `overrides` applied:
    SampleFilter fields, PairRule fields, `per_problem`, `dedupe`, `balance`."""
    if name is None:
        preset = Preset("custom", kind, "", rule=PRESETS["aimo2-dpo"].rule if kind == "dpo" else None)
    elif name not in PRESETS:
        raise DataError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    else:
        preset = PRESETS[name]
    if preset.kind != kind:
        raise DataError(f"preset {name!r} makes a {preset.kind} dataset, not {kind}")
    given = {k: v for k, v in overrides.items() if v is not None}
    only_fields = set(preset.only.__dataclass_fields__)
    rule_fields = set(preset.rule.__dataclass_fields__) if preset.rule else set()
    only = replace(preset.only, **{k: v for k, v in given.items() if k in only_fields})
    rule = preset.rule and replace(preset.rule, **{k: v for k, v in given.items() if k in rule_fields})
    unknown = set(given) - only_fields - rule_fields - {"per_problem", "dedupe", "balance"}
    if unknown:
        raise DataError(f"options {sorted(unknown)} do not apply to a {kind} dataset")
    top = {k: v for k, v in given.items() if k in ("per_problem", "dedupe", "balance")}
    return replace(preset, only=only, rule=rule, **top)


def build_rows(
    problems: Sequence[GradedProblem],
    preset: Preset,
    out: Output = Output(),
    similarity: Similarity | None = None,
) -> Iterator[Row]:
    """The rows of `preset`'s dataset from `problems` (problems without text are skipped)."""
    if preset.dedupe is not None:
        problems = dedupe_problems([p for p in problems if p.text], preset.dedupe)
    if preset.kind == "sft":
        for problem, sample in select_sft(problems, preset.only, preset.per_problem):
            yield sft_row(problem, sample, out.flavor, out.prompt_completion, out.system)
    elif preset.kind == "dpo":
        assert preset.rule is not None
        if preset.rule.max_similarity is not None and similarity is None:
            similarity = cosine_matrix(sentence_embedder())
        for problem, chosen, rejected in dpo_pairs(problems, preset.rule, preset.only, similarity):
            yield dpo_row(problem, chosen, rejected, out.flavor, out.system)
    elif preset.kind == "kto":
        for problem, sample in kto_samples(problems, preset.only, preset.balance):
            yield kto_row(problem, sample, out.flavor, out.system)
    elif preset.kind == "grpo":
        for problem in problems:
            if problem.text and problem.gold is not None and preset.only.problem_ok(problem):
                yield grpo_row(problem, system=out.system)
    else:
        raise DataError(f"unknown dataset kind {preset.kind!r}")
