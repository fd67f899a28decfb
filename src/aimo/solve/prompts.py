"""Prompt templates: chain-of-thought and tool-integrated (code) prompts, and the mix of both."""

from __future__ import annotations

from dataclasses import dataclass

from aimo.engines.base import Message

COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
TIR_SYSTEM = (
    "Please integrate natural language reasoning with programs to solve the problem. "
    "Write Python code in ```python blocks; each block is run and its output is shown to you in an "
    "```output block. Put your final answer within \\boxed{}."
)


@dataclass(frozen=True)
class PromptTemplate:
    """A system message and a user message template with `{problem}` in it."""

    kind: str
    system: str
    user: str = "{problem}"

    def messages(self, problem_text: str) -> list[Message]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format(problem=problem_text)},
        ]


TIR_TOOLS_SYSTEM = (
    "Please integrate natural language reasoning with programs to solve the problem. "
    "You can call the `python` tool to run code; variables persist between calls. "
    "Put your final answer within \\boxed{}."
)

PROMPTS: dict[str, PromptTemplate] = {
    "cot": PromptTemplate("cot", COT_SYSTEM),
    "tir": PromptTemplate("tir", TIR_SYSTEM),
    "tir_tools": PromptTemplate("tir", TIR_TOOLS_SYSTEM),
}


def prompt_kinds(strategy: str, samples: int, code_samples: int | None = None) -> list[str]:
    """The prompt kind of each sample: all `cot`, all `tir`, or a mix (half code unless told).

    In a mix the kinds alternate, so that a run stopped early has used both kinds."""
    if strategy in ("cot", "tir"):
        return [strategy] * samples
    if strategy != "mix":
        raise ValueError(f"unknown strategy {strategy!r} (cot, tir or mix)")
    n_code = samples // 2 if code_samples is None else min(code_samples, samples)
    kinds: list[str] = []
    code_left, cot_left = n_code, samples - n_code
    while code_left or cot_left:
        # Keep the share of code samples so far close to the target share.
        if code_left and (not cot_left or (n_code - code_left) * samples <= len(kinds) * n_code):
            kinds.append("tir")
            code_left -= 1
        else:
            kinds.append("cot")
            cot_left -= 1
    return kinds
