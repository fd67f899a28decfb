"""The seeds' data recipes as named presets (`aimo data sft|dpo|kto|grpo --preset NAME`).

Where a write-up gives no number, the value is aimo's choice and says so in `note`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aimo.data.pairs import ANY, PairRule
from aimo.data.select import SampleFilter


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # sft, dpo, kto or grpo
    summary: str
    only: SampleFilter = ANY
    per_problem: int | None = 1  # SFT: correct samples kept per problem, shortest first (None: all)
    dedupe: float | None = 0.9  # near-duplicate problems removed above this similarity (None: kept)
    rule: PairRule | None = None  # DPO
    balance: bool = False  # KTO
    note: str = ""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "numina-cot",
            "sft",
            "NuminaMath stage 1: every correct chain-of-thought solution.",
            only=SampleFilter(kinds=("cot",)),
            per_problem=None,
        ),
        Preset(
            "numina-tir",
            "sft",
            "NuminaMath stage 2: every correct tool-integrated solution, code outputs as the model saw them.",
            only=SampleFilter(kinds=("tir",)),
            per_problem=None,
        ),
        Preset(
            "numina-kto",
            "kto",
            "Numina's on-policy KTO: sample completions, grade them, label each correct or not.",
            dedupe=None,
        ),
        Preset(
            "aimo2-dpo",
            "dpo",
            "AIMO-2 2nd place dpo-1: shorter correct vs longer correct (length ratio, minimum length).",
            rule=PairRule("shorter", ratio=0.7, min_tokens=256),
            note="ratio 0.7 and minimum 256 tokens are aimo's choice; the write-up names the criteria only",
        ),
        Preset(
            "aimo2-dpo-sim",
            "dpo",
            "AIMO-2 2nd place dpo-2: dpo-1 plus a sentence-embedding similarity ceiling.",
            rule=PairRule("shorter", ratio=0.7, min_tokens=256, max_similarity=0.9),
            note="similarity ceiling 0.9 is aimo's choice",
        ),
        Preset(
            "correct-wrong",
            "dpo",
            "Correct vs wrong answers to the same problem.",
            rule=PairRule("correct-wrong", ratio=None),
        ),
        Preset(
            "fast-math-r1-sft",
            "sft",
            "Fast-Math-R1 SFT: hard but solvable problems, long traces, the shortest correct one each,"
            " no duplicates.",
            only=SampleFilter(min_pass_rate=0.1, max_pass_rate=0.9, min_tokens=1024),
            per_problem=1,
            note="the pass-rate band and length floor are aimo's scaled-down choice",
        ),
        Preset(
            "fast-math-r1-grpo",
            "grpo",
            "Fast-Math-R1 GRPO prompts: problems the model solves sometimes (format, cosine, length"
            " rewards).",
            only=SampleFilter(min_pass_rate=0.1, max_pass_rate=0.9),
            note="the pass-rate band is aimo's choice",
        ),
    )
}


def presets_for(kind: str) -> list[str]:
    return [name for name, p in PRESETS.items() if p.kind == kind]
