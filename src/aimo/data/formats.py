"""Dataset rows in the JSONL shapes TRL and LLaMA-Factory read, and writing them.

TRL (conversational): SFT `{"messages": [...]}` or `{"prompt": [...], "completion": [...]}`; DPO
`{"prompt", "chosen", "rejected"}` (lists of messages); KTO `{"prompt", "completion", "label"}`; GRPO
`{"prompt", "answer"}` (the extra column reaches the reward functions as a keyword argument).
LLaMA-Factory (sharegpt): `messages`; preference rows with one `chosen`/`rejected` message each;
KTO rows as `messages` with a boolean `label` (its `kto_tag`). `dataset_info` writes the entry that
registers a file with LLaMA-Factory.

The prompt is the one the sample was generated with (`aimo.solve.prompts`), and the completion is the
sample's text as the model saw it: in tool-integrated samples, each ```python block followed by the
```output block the sandbox returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from aimo.data.graded import GradedProblem, GradedSample
from aimo.engines.base import Message
from aimo.solve.prompts import PROMPTS

Flavor = Literal["trl", "llamafactory"]
Kind = Literal["sft", "dpo", "kto", "grpo"]
Row = dict[str, Any]


def prompt_messages(problem: GradedProblem, kind: str = "cot", system: bool = True) -> list[Message]:
    """The chat messages a sample of `kind` ("cot" or "tir") was prompted with."""
    template = PROMPTS.get(kind, PROMPTS["cot"])
    messages = template.messages(problem.text)
    return messages if system else [m for m in messages if m["role"] != "system"]


def assistant(sample: GradedSample) -> Message:
    return {"role": "assistant", "content": sample.text}


def sft_row(
    problem: GradedProblem,
    sample: GradedSample,
    flavor: Flavor = "trl",
    prompt_completion: bool = False,
    system: bool = True,
) -> Row:
    """One supervised example: the sample's prompt and its text."""
    prompt = prompt_messages(problem, sample.prompt_kind, system)
    if prompt_completion and flavor == "trl":
        return {"prompt": prompt, "completion": [assistant(sample)]}
    return {"messages": [*prompt, assistant(sample)]}


def dpo_row(
    problem: GradedProblem,
    chosen: GradedSample,
    rejected: GradedSample,
    flavor: Flavor = "trl",
    system: bool = True,
) -> Row:
    """One preference pair; both completions answer the chosen sample's prompt."""
    prompt = prompt_messages(problem, chosen.prompt_kind, system)
    if flavor == "llamafactory":
        return {"messages": prompt, "chosen": assistant(chosen), "rejected": assistant(rejected)}
    return {"prompt": prompt, "chosen": [assistant(chosen)], "rejected": [assistant(rejected)]}


def kto_row(problem: GradedProblem, sample: GradedSample, flavor: Flavor = "trl", system: bool = True) -> Row:
    """One labelled completion: `label` is whether its answer is correct."""
    prompt = prompt_messages(problem, sample.prompt_kind, system)
    if flavor == "llamafactory":
        return {"messages": [*prompt, assistant(sample)], "label": bool(sample.correct)}
    return {"prompt": prompt, "completion": [assistant(sample)], "label": bool(sample.correct)}


def grpo_row(problem: GradedProblem, kind: str = "cot", system: bool = True) -> Row:
    """One prompt for online RL, with the gold `answer` the accuracy reward compares against."""
    return {"prompt": prompt_messages(problem, kind, system), "answer": problem.gold}


def write_jsonl(path: Path, rows: Iterable[Row]) -> int:
    """Write `rows` one JSON object a line (to a temporary file first); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


def dataset_info(path: Path, kind: Kind) -> dict[str, Any]:
    """LLaMA-Factory's `dataset_info.json` entry for a file written with flavor "llamafactory"."""
    entry: dict[str, Any] = {"file_name": path.name, "formatting": "sharegpt", "tags": _TAGS}
    columns: dict[str, str] = {"messages": "messages"}
    if kind == "dpo":
        entry["ranking"] = True
        columns |= {"chosen": "chosen", "rejected": "rejected"}
    elif kind == "kto":
        columns["kto_tag"] = "label"
    entry["columns"] = columns
    return {path.stem: entry}
