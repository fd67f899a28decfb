"""Calibration data: math problems as chats, from a problem set or from an `aimo eval` run.

A problem set (a file, or a dataset name `aimo eval` knows) gives prompts only: the solve prompt
around each problem. An eval run directory gives prompts and the model's own outputs, which is closer
to what the quantized model will see while it reasons (long assistant turns), so it is preferred.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aimo.engines.base import Message
from aimo.evaluate.datasets import resolve_dataset
from aimo.evaluate.rundir import CONFIG_FILE, RunDir
from aimo.quantize.schemes import QuantizeError
from aimo.solve.prompts import PROMPTS

ChatRenderer = Callable[[Sequence[Message], bool], str]  # (messages, add_generation_prompt) → text


@dataclass(frozen=True)
class Calibration:
    """The chats to calibrate on and where they came from (recorded in the manifest)."""

    source: str
    kind: str  # "problems" | "eval-run"
    chats: list[list[Message]]

    def describe(self) -> dict[str, object]:
        return {"source": self.source, "kind": self.kind, "samples": len(self.chats)}

    def texts(self, render: ChatRenderer) -> list[str]:
        """The chats as the model's own chat template writes them (a prompt ends ready for the answer)."""
        return [render(chat, chat[-1]["role"] != "assistant") for chat in self.chats]


def load_calibration(spec: str, limit: int, seed: int = 0) -> Calibration:
    """Up to `limit` chats (a seeded random choice) from a run directory, problem file or dataset name."""
    path = Path(spec)
    if (path / CONFIG_FILE).is_file():
        chats, kind = _run_chats(RunDir.open(path)), "eval-run"
    else:
        try:
            dataset = resolve_dataset(spec)
        except Exception as exc:
            raise QuantizeError(f"calibration data {spec!r}: {exc}") from None
        chats, kind = [PROMPTS["cot"].messages(p.text) for p in dataset.problems], "problems"
    if not chats:
        raise QuantizeError(f"calibration data {spec!r} holds no problems")
    if len(chats) > limit:
        chats = random.Random(seed).sample(chats, limit)
    return Calibration(spec, kind, chats)


def _run_chats(run: RunDir) -> list[list[Message]]:
    """Each finished sample of the run as prompt + output (the problem text from the run's dataset)."""
    dataset = resolve_dataset(run.info.dataset["spec"], run.info.config.engine.traces)
    texts = {p.id: p.text for p in dataset.problems}
    chats = []
    for record in run.records():
        problem = texts.get(record.result.problem_id)
        if problem is None:
            continue
        for sample in record.result.samples:
            prompt = PROMPTS.get(sample.prompt_kind, PROMPTS["cot"]).messages(problem)
            chats.append([*prompt, {"role": "assistant", "content": sample.text}])
    return chats
