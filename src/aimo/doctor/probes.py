"""Pure judgements behind the doctor's checks: chat-template rendering and stop-string behaviour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aimo.engines.base import THINK_END, THINK_START, Message

Status = Literal["pass", "fail", "warn", "skip"]

USER_TEXT = "AIMO-DOCTOR-USER: what is 2+3?"
ASSISTANT_MARK = "AIMO-DOCTOR-ASSISTANT"
# Text of chat-template control tokens; one of them in a reply means a template or stop-token mix-up.
TEMPLATE_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "[INST]",
    "[/INST]",
    "<start_of_turn>",
    "<end_of_turn>",
    "<｜end▁of▁sentence｜>",
    "<｜Assistant｜>",
    "<｜User｜>",
)


@dataclass(frozen=True)
class Verdict:
    """A check's outcome and the one-line reason shown next to it."""

    status: Status
    detail: str


def judge_rendering(render: Callable[[list[Message]], str], system: str) -> Verdict:
    """Does the template put the user's text in, and end the prompt where the assistant's text begins?

    The assistant's opening is learnt from the template itself: rendering a history with an assistant
    message shows what comes between the user's text and the assistant's (`<|im_end|>\\n<|im_start|>
    assistant\\n` for ChatML). The prompt for generation must end with that (a template may add more
    after it, e.g. `<think>\\n`)."""
    user: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": USER_TEXT}]
    try:
        prompt = render(user)
        history = render([*user, {"role": "assistant", "content": ASSISTANT_MARK}])
    except Exception as exc:
        return Verdict("fail", f"the chat template failed to render a system + user message: {exc}")
    if USER_TEXT not in prompt:
        return Verdict("fail", "the rendered prompt does not contain the user's message")
    if system not in prompt:
        return Verdict("warn", "the rendered prompt leaves out the system message")
    tail = prompt[prompt.rindex(USER_TEXT) + len(USER_TEXT) :]
    if ASSISTANT_MARK not in history:
        return Verdict("fail", "the chat template drops assistant messages")
    opening = history[history.rindex(USER_TEXT, 0, history.index(ASSISTANT_MARK)) + len(USER_TEXT) :]
    opening = opening[: opening.index(ASSISTANT_MARK)]
    if not opening.strip() or not tail.startswith(opening):
        return Verdict(
            "fail",
            f"the prompt ends with {tail[-60:]!r}, not with the assistant's opening {opening[-60:]!r} "
            "(no generation prompt: the model would go on writing the user's turn)",
        )
    return Verdict("pass", f"renders the messages and ends with the assistant header {tail[-60:]!r}")


def judge_reply(text: str) -> Verdict:
    """A chat reply must have text and no raw template tokens."""
    if not text.strip():
        return Verdict("fail", "the chat request came back empty")
    leaked = sorted((token for token in TEMPLATE_TOKENS if token in text), key=text.index)
    if leaked:
        return Verdict(
            "fail",
            f"the reply contains the template token {leaked[0]!r}: the server's chat template or its "
            "end-of-turn tokens are wrong",
        )
    return Verdict("pass", f"a chat request returned {text.strip()[:50]!r}")


def pick_stop_string(text: str, length: int = 4) -> str | None:
    """A short piece of `text` from its second half that occurs there first (not earlier), or None."""
    for start in range(len(text) // 2, len(text) - length + 1):
        piece = text[start : start + length]
        if piece.strip() and text.find(piece) == start:
            return piece
    return None


def judge_stop(free_text: str, stopped_text: str, finish_reason: str, stop: str) -> Verdict:
    """Compare a greedy generation without stop strings with the same generation stopped at `stop`."""
    at = free_text.index(stop)
    if stop in stopped_text:
        return Verdict(
            "fail", f"the stop string {stop!r} appeared in the output: the engine does not apply stop strings"
        )
    if stopped_text == free_text[:at] and finish_reason == "stop":
        return Verdict("pass", f"stopped right before {stop!r} after {at} characters (finish_reason stop)")
    if stopped_text == free_text[:at]:
        return Verdict("fail", f"stopped before {stop!r} but reported finish_reason {finish_reason!r}")
    common = _common_prefix(stopped_text, free_text)
    if common < at:
        return Verdict(
            "warn",
            f"inconclusive: two greedy runs differed after {common} characters, before the stop string "
            f"{stop!r} at {at}",
        )
    return Verdict("fail", f"the output went past {stop!r} without stopping (finish_reason {finish_reason})")


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def judge_reasoning(text: str, prompt_opens_think: bool | None) -> Verdict:
    """Does a reasoning model's thinking reach aimo whole, inside `<think>` … `</think>`?

    `text` is what the engine streamed for a short question; `prompt_opens_think` is whether the
    rendered prompt ends inside an opened `<think>` (None when aimo cannot render the prompt)."""
    opened, closed = THINK_START in text, THINK_END in text
    if not opened and not closed and not prompt_opens_think:
        return Verdict("skip", "no thinking markers: not a reasoning model (or its thinking is off)")
    if closed and not opened and not prompt_opens_think:
        return Verdict(
            "warn",
            "the reply closes </think> that nothing opened: the server's chat template opens the thinking "
            "in the prompt and no reasoning parser is on. aimo still sees the text, but a forced answer "
            "cannot tell it is inside the thinking: start vLLM/SGLang with --reasoning-parser "
            "(deepseek_r1, qwen3, gpt-oss) or render the template with --chat-template",
        )
    if opened and text.count(THINK_START) > 1:
        return Verdict("warn", "the thinking was opened twice: the template and the model both open <think>")
    if not closed:
        return Verdict(
            "pass", "the thinking streams inside <think> (it did not close within the probe's tokens)"
        )
    where = "opened by the chat template" if prompt_opens_think and not opened else "kept in the sample"
    return Verdict("pass", f"the thinking streams whole, {where}, and closes with </think>")
