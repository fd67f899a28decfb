"""A model's own chat template, rendered by aimo: messages (+ the assistant's text so far) → raw prompt.

Used where aimo must own the prompt text: the openai engine on the completions API renders chats
itself, so that continuing an assistant turn after a code output is token-exact whatever the server
does with assistant messages (R1-distill and QwQ templates drop the thinking from them, and open
`<think>\\n` only at the generation prompt). The rendering is always
`template(messages, add_generation_prompt=True) + assistant_prefix`, the prefix kept verbatim.

Where the template comes from (`load_chat_template`):
- a GGUF file: its embedded `tokenizer.chat_template`;
- a local Hugging Face model directory: `chat_template.jinja`, else `tokenizer_config.json`'s `chat_template`;
- a `tokenizer_config.json` file, or a Jinja template file (any other text file);
- a hub id `org/name` when the hub can be reached (through huggingface_hub).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aimo.engines.base import EngineError


class TemplateError(EngineError):
    """A chat template could not be found, loaded or rendered."""


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template and the special tokens it refers to.

    `adds_bos`: the tokenizer puts a BOS token in front of any prompt by itself (servers' completions
    endpoints tokenize with it), so a rendered prompt's leading `bos_token` text is dropped to avoid a
    doubled BOS."""

    source: str
    bos_token: str = ""
    eos_token: str = ""
    adds_bos: bool = False
    origin: str = ""

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        assistant_prefix: str = "",
        *,
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        """`template(messages, add_generation_prompt=True) + assistant_prefix` (the prefix verbatim)."""
        try:
            text = _compile(self.source).render(
                messages=[dict(m) for m in messages],
                add_generation_prompt=True,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                tools=[dict(t) for t in tools] or None,
            )
        except Exception as exc:  # jinja2's errors, and raise_exception() from the template itself
            raise TemplateError(f"chat template from {self.origin or 'text'} failed: {exc}") from exc
        if self.adds_bos and self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token) :]
        return text + assistant_prefix


def _compile(source: str) -> Any:
    from jinja2.exceptions import TemplateError as JinjaError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise JinjaError(message)

    def tojson(value: Any, indent: int | None = None, **_: Any) -> str:
        return json.dumps(value, ensure_ascii=False, indent=indent)

    # The same environment settings as transformers' apply_chat_template, so renders agree with it.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


def load_chat_template(spec: str) -> ChatTemplate:
    """Load a chat template from a GGUF file, a model directory, a template file, or a hub id."""
    path = Path(spec).expanduser()
    if path.is_file():
        if path.read_bytes()[:4] == b"GGUF":
            return _from_gguf(path)
        if path.name.endswith(".json"):
            return _from_tokenizer_config(json.loads(path.read_text()), str(path))
        return ChatTemplate(path.read_text(), origin=str(path))
    if path.is_dir():
        return _from_directory(path)
    if spec.startswith(("/", "./", "../", "~")) or spec.count("/") != 1:
        raise TemplateError(
            f"chat template not found: {spec} (give a GGUF file, model directory, template file or hub id)"
        )
    return _from_hub(spec)


def _from_directory(path: Path) -> ChatTemplate:
    config_file = path / "tokenizer_config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        config = {**config, "chat_template": jinja.read_text()}
    if not config.get("chat_template"):
        raise TemplateError(
            f"{path} has no chat template (no chat_template.jinja, none in tokenizer_config.json)"
        )
    return _from_tokenizer_config(config, str(path))


def _token_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("content") or "")
    return str(value or "")


def _from_tokenizer_config(config: Mapping[str, Any], origin: str) -> ChatTemplate:
    source = config.get("chat_template")
    if isinstance(source, list):  # named templates: [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in source}
        source = named.get("default") or next(iter(named.values()), None)
    if not isinstance(source, str) or not source:
        raise TemplateError(f"{origin} has no chat_template")
    return ChatTemplate(
        source,
        bos_token=_token_text(config.get("bos_token")),
        eos_token=_token_text(config.get("eos_token")),
        adds_bos=bool(config.get("add_bos_token", False)),
        origin=origin,
    )


def _from_gguf(path: Path) -> ChatTemplate:
    from gguf import GGUFReader

    fields = GGUFReader(str(path)).fields

    def value(name: str) -> Any:
        field = fields.get(name)
        return field.contents() if field is not None else None

    source = value("tokenizer.chat_template")
    if not source:
        raise TemplateError(f"{path} has no embedded chat template (tokenizer.chat_template)")
    tokens = value("tokenizer.ggml.tokens") or []

    def token(key: str) -> str:
        index = value(key)
        return tokens[index] if isinstance(index, int) and 0 <= index < len(tokens) else ""

    return ChatTemplate(
        str(source),
        bos_token=token("tokenizer.ggml.bos_token_id"),
        eos_token=token("tokenizer.ggml.eos_token_id"),
        adds_bos=bool(value("tokenizer.ggml.add_bos_token")),
        origin=str(path),
    )


def _from_hub(repo_id: str) -> ChatTemplate:
    try:
        from huggingface_hub import hf_hub_download

        config = json.loads(Path(hf_hub_download(repo_id, "tokenizer_config.json")).read_text())
        if not config.get("chat_template"):  # newer repos keep it in its own file
            config["chat_template"] = Path(hf_hub_download(repo_id, "chat_template.jinja")).read_text()
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TemplateError(
            f"could not fetch the chat template of {repo_id} from the hub: {reason}"
        ) from None
    return _from_tokenizer_config(config, repo_id)
