"""Engine configuration: which engine, which model, and how to reach or load it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EngineName = Literal["auto", "llamacpp", "openai", "vllm", "replay"]
PROMPT_TOKENS_ALLOWANCE = 1024  # KV room per sequence for the chat template, the problem and code outputs
MAX_AUTO_CONTEXT = 131_072  # beyond this the KV cache may not fit in memory: set n_ctx yourself
# Requests in flight that saturate a server (vLLM, SGLang: 64–256 sequences) or the replay engine.
SERVER_CONCURRENCY = 256


class EngineConfig(BaseModel):
    """How to build an engine. `engine="auto"` picks from the model: a URL → openai, otherwise llamacpp."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineName = "auto"
    model: str | None = None
    # openai: one or several base URLs (load is spread across them); chat or completions API.
    base_urls: list[str] = Field(default_factory=list)
    api: Literal["chat", "completions"] = "chat"
    api_key: str | None = None
    served_model_name: str | None = None
    # openai on api="completions": the chat template aimo renders chats with (a GGUF file, model
    # directory, template file or hub id, or "harmony" for gpt-oss), so the prompt text is aimo's.
    chat_template: str | None = None
    # gpt-oss: the reasoning effort (rendered into harmony's system message, or sent to a chat API).
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    # openai: extra JSON fields merged into every request (server options, e.g. vLLM's top_k).
    extra_body: dict[str, object] = Field(default_factory=dict)
    request_timeout_s: float = 600.0
    connect_retries: int = 3
    # llamacpp: context size, threads, the most sequences decoded together in one batch.
    n_ctx: int = 8192
    n_threads: int | None = None
    n_batch: int = 512
    max_sequences: int = 16
    # Flash attention (None: llama.cpp's auto). llama-cpp-python's `Llama` turns it off by default, so
    # greedy outputs of the two differ on a few problems by numerics alone.
    flash_attn: bool | None = None
    # vllm (in-process): extra keyword arguments for AsyncEngineArgs.
    vllm_args: dict[str, object] = Field(default_factory=dict)
    # replay: a file of recorded samples and the speed to play them at.
    traces: str | None = None
    replay_tokens_per_s: float | None = None
    # replay: play like a batching engine with this `aimo bench engine --json` result's tok/s curve.
    replay_throughput: str | None = None

    def saturating_concurrency(self) -> int:
        """Requests in flight that keep this engine busy: llama.cpp's `max_sequences` (the sequences it
        decodes together), else `SERVER_CONCURRENCY`."""
        model = self.model or ""
        local = self.engine == "llamacpp" or (  # what `auto` picks for a GGUF or built-in model
            self.engine == "auto"
            and not (self.base_urls or self.traces or model.startswith(("http://", "https://")))
            and not Path(model).is_dir()
        )
        return self.max_sequences if local else SERVER_CONCURRENCY

    def fitted(self, concurrency: int, max_tokens: int) -> EngineConfig:
        """A copy whose llama.cpp context holds `concurrency` sequences of `max_tokens` at once.

        Only the llamacpp engine reads these fields. The context is never made smaller than set, and
        grown at most to MAX_AUTO_CONTEXT; a sequence that still finds the cache full ends with "length"."""
        need = min(MAX_AUTO_CONTEXT, concurrency * (max_tokens + PROMPT_TOKENS_ALLOWANCE))
        return self.model_copy(
            update={"max_sequences": max(self.max_sequences, concurrency), "n_ctx": max(self.n_ctx, need)}
        )
