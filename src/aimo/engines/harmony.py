"""gpt-oss's harmony format on the completions API: aimo renders the prompt, and reads the raw stream.

gpt-oss does not use a Jinja chat template: its turns are harmony messages (`<|start|>role
<|channel|>analysis|commentary|final<|message|>…<|end|>`), a python tool call is an assistant message
`to=python` ending in `<|call|>`, and the tool's answer comes back as a message from `python`. With
`--chat-template harmony` the openai engine renders chats with the `openai-harmony` package and asks
the server to keep the special tokens in the streamed text, and this module maps the stream to aimo's
own text convention, so the sample loop scans, runs code and votes exactly as for any other model:

- analysis (and commentary) text → inside `<think>` … `</think>`;
- a message to `python` → a ```` ```python ```` block (the sample loop runs it and appends its
  ```` ```output ```` block);
- the final channel → the text after `</think>`.

A continuation (the assistant's text so far, with code outputs) is mapped back to harmony messages —
analysis, tool call, tool answer — and rendered by `openai-harmony`, so the server sees what gpt-oss
itself would have produced. Two analysis messages in a row come back as one (their boundary is not
kept in the text).

`openai-harmony` needs the `o200k_base.tiktoken` vocabulary. Online it downloads it; offline (Kaggle)
put the file in a folder and set `TIKTOKEN_ENCODINGS_BASE` to that folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from aimo.engines.base import THINK_END, THINK_START, GenerationRequest, ends_inside_thinking
from aimo.engines.template import TemplateError

HARMONY = "harmony"  # the --chat-template value that selects this format
ReasoningEffort = Literal["low", "medium", "high"]
CODE_OPEN, CODE_CLOSE = "\n```python\n", "\n```\n"
OUTPUT_FENCE = "```output"  # a tool-integrated request stops there
_OUTPUT_BLOCK = re.compile(r"```output\n(.*?)\n```\n", re.S)
_SPECIAL = re.compile(r"<\|(start|end|message|channel|constrain|call|return)\|>")
_VOCAB_HINT = (
    "gpt-oss's harmony format needs the o200k_base.tiktoken vocabulary: online openai-harmony fetches "
    "it; offline, put the file in a folder and set TIKTOKEN_ENCODINGS_BASE to that folder"
)


@cache
def harmony_encoding() -> Any:
    """The harmony encoding of gpt-oss (loaded once); a clear error when it cannot be had."""
    try:
        import openai_harmony
    except ImportError as exc:
        raise TemplateError("the harmony format needs openai-harmony: pip install 'aimo[harmony]'") from exc
    try:
        return openai_harmony.load_harmony_encoding(openai_harmony.HarmonyEncodingName.HARMONY_GPT_OSS)
    except Exception as exc:  # openai_harmony.HarmonyError: the vocabulary could not be read or fetched
        raise TemplateError(f"{_VOCAB_HINT} ({exc})") from exc


@dataclass(frozen=True)
class HarmonyFormat:
    """Renders chats as harmony prompts and maps raw harmony streams to aimo's text convention.

    The python tool is declared when a request can run code: it stops at an output block (the text
    convention of tool-integrated samples) or offers tools."""

    reasoning_effort: ReasoningEffort = "high"
    origin: str = HARMONY

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        assistant_prefix: str = "",
        *,
        python_tool: bool = False,
    ) -> str:
        """The prompt text: the chat, then the assistant's turn so far (`assistant_prefix`) in harmony."""
        import openai_harmony as h

        encoding = harmony_encoding()
        system = h.SystemContent.new().with_reasoning_effort(h.ReasoningEffort[self.reasoning_effort.upper()])
        if python_tool:
            system = system.with_tools(h.ToolNamespaceConfig.python())
        rendered = [h.Message.from_role_and_content(h.Role.SYSTEM, system)]
        for message in messages:
            role, content = message.get("role"), str(message.get("content") or "")
            if role == "system":
                developer = h.DeveloperContent.new().with_instructions(content)
                rendered.append(h.Message.from_role_and_content(h.Role.DEVELOPER, developer))
            elif role == "user":
                rendered.append(h.Message.from_role_and_content(h.Role.USER, content))
            elif role == "assistant":
                rendered.extend(_assistant_messages(content)[0])
            else:
                raise TemplateError(f"the harmony format has no place for a {role!r} message")
        done, open_part = _assistant_messages(assistant_prefix)
        rendered.extend(done)
        conversation = h.Conversation.from_messages(rendered)
        tokens = encoding.render_conversation_for_completion(conversation, h.Role.ASSISTANT)
        return encoding.decode(tokens) + open_part

    def render_request(self, request: GenerationRequest) -> str:
        """`render` for an engine request; the python tool is offered when the request can run code."""
        can_run_code = bool(request.tools) or any(OUTPUT_FENCE in stop for stop in request.stop)
        return self.render(request.messages or (), request.assistant_prefix, python_tool=can_run_code)

    def request_extras(self) -> dict[str, Any]:
        """Fields the completions request needs: special tokens kept in the text, and the stops."""
        return {
            "skip_special_tokens": False,
            "stop_token_ids": list(harmony_encoding().stop_tokens_for_assistant_actions()),
        }

    def reader(self, assistant_prefix: str = "") -> HarmonyReader:
        """A reader for one streamed completion that continues `assistant_prefix`."""
        return HarmonyReader(
            thinking=ends_inside_thinking(assistant_prefix), in_message=_inside_message(assistant_prefix)
        )


def _inside_message(prefix: str) -> str | None:
    """The kind of message the continuation is inside ("analysis", "final"), or None when the model
    starts a new message (nothing written yet, or right after a code output)."""
    if not prefix:
        return None
    last_output = prefix.rfind("```output\n")
    if last_output >= 0 and _OUTPUT_BLOCK.fullmatch(prefix, last_output):
        return None
    return "analysis" if ends_inside_thinking(prefix) else "final"


def _assistant_messages(text: str) -> tuple[list[Any], str]:
    """aimo's assistant text → finished harmony messages, and the open last message's header + text."""
    import openai_harmony as h

    done: list[Any] = []
    if not text:
        return done, ""
    thinking, final = text, None
    if THINK_END in text:
        thinking, final = text.split(THINK_END, 1)
    thinking = thinking.removeprefix(THINK_START).removeprefix("\n")
    open_part = ""
    pos = 0
    while True:
        start = thinking.find(CODE_OPEN, pos)
        end = thinking.find(CODE_CLOSE, start + len(CODE_OPEN)) if start >= 0 else -1
        if start < 0 or end < 0:
            break
        if start > pos:
            done.append(_analysis(thinking[pos:start]))
        code = thinking[start + len(CODE_OPEN) : end]
        done.append(
            h.Message.from_role_and_content(h.Role.ASSISTANT, code)
            .with_channel("analysis")
            .with_recipient("python")
            .with_content_type("code")
        )
        pos = end + len(CODE_CLOSE)
        output = _OUTPUT_BLOCK.match(thinking, pos)
        if output is None:
            break
        done.append(
            h.Message.from_author_and_content(h.Author.new(h.Role.TOOL, "python"), output.group(1))
            .with_recipient("assistant")
            .with_channel("analysis")
        )
        pos = output.end()
    rest = thinking[pos:]
    if final is None:
        if rest:
            open_part = "<|channel|>analysis<|message|>" + rest
    else:
        if rest:
            done.append(_analysis(rest))
        open_part = "<|channel|>final<|message|>" + final
    return done, open_part


def _analysis(text: str) -> Any:
    import openai_harmony as h

    return h.Message.from_role_and_content(h.Role.ASSISTANT, text).with_channel("analysis")


class HarmonyReader:
    """Turns one raw harmony completion stream (special tokens kept) into aimo's text, delta by delta.

    `feed` takes the raw text as it arrives (a special token split across deltas is held back until
    it is whole); `finish` closes what the end of the stream leaves open (a tool call whose `<|call|>`
    the server dropped as a stop token)."""

    def __init__(self, thinking: bool = False, in_message: str | None = None) -> None:
        self.thinking = thinking
        self._pending = ""
        self._header: str | None = None if in_message else ""
        self._kind: str | None = in_message  # "analysis", "final" or "code" while inside a message
        self._seen_message = in_message is not None

    def feed(self, raw: str) -> str:
        text = self._pending + raw
        cut = text.rfind("<|")
        if cut < 0 or "|>" in text[cut:]:
            cut = len(text) - 1 if text.endswith("<") else len(text)  # "<" may start a special token
        text, self._pending = text[:cut], text[cut:]
        out: list[str] = []
        pos = 0
        for match in _SPECIAL.finditer(text):
            out.append(self._content(text[pos : match.start()]))
            out.append(self._token(match.group(1)))
            pos = match.end()
        out.append(self._content(text[pos:]))
        return "".join(out)

    def finish(self) -> str:
        """What the end of the stream closes: an open tool call's code block.

        A stream with text but no harmony markup means the server dropped the special tokens."""
        out, self._pending = self._content(self._pending), ""
        if not self._seen_message and (self._header or "").strip():
            raise TemplateError(
                "the server sent gpt-oss's text without harmony's special tokens: it must honour "
                "skip_special_tokens=false on the completions API (vLLM and SGLang do)"
            )
        if self._kind == "code":
            self._kind = None
            out += CODE_CLOSE
        return out

    def _content(self, text: str) -> str:
        if not text:
            return ""
        if self._header is not None and self._kind is None:
            self._header += text  # role, channel, recipient and content type: not part of the text
            return ""
        return text if self._kind is not None else ""

    def _token(self, name: str) -> str:
        if name == "start":
            self._header, self._kind = "", None
            return ""
        if name in ("channel", "constrain"):
            if self._header is None:
                self._header = ""
            self._header += f" <{name}> "
            return ""
        if name == "message":
            self._seen_message = True
            self._kind = _message_kind(self._header or "")
            self._header = None
            return self._open(self._kind)
        # end, call, return: the message is over
        closing = CODE_CLOSE if self._kind == "code" else ""
        self._kind, self._header = None, ""
        return closing

    def _open(self, kind: str) -> str:
        if kind == "final":
            if self.thinking:
                self.thinking = False
                return THINK_END
            return ""
        prefix = ""
        if not self.thinking:
            self.thinking = True
            prefix = THINK_START + "\n"
        return prefix + (CODE_OPEN if kind == "code" else "")


def _message_kind(header: str) -> str:
    """ "code" for a message to python, "final" for the final channel, else "analysis"."""
    if re.search(r"\bto=python", header):
        return "code"
    channel = re.search(r"<channel>\s*(\w+)", header)
    return "final" if channel and channel.group(1) == "final" else "analysis"
