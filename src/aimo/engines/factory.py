"""Building an engine from an `EngineConfig`: the model decides the engine when none is named."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aimo.engines.base import Engine, EngineError
from aimo.engines.config import EngineConfig, EngineName
from aimo.models import Progress, ResolvedModel, resolve_model


def pick_engine(config: EngineConfig, model: ResolvedModel | None) -> EngineName:
    """`auto`: a URL or base URLs → openai; a GGUF file → llamacpp; an HF model → vllm."""
    if config.engine != "auto":
        return config.engine
    if config.base_urls or (model and model.kind == "url"):
        return "openai"
    if config.traces:
        return "replay"
    if model and model.kind in ("hf_dir", "hf_hub"):
        return "vllm"
    return "llamacpp"


def create_engine(config: EngineConfig, progress: Progress | None = None) -> Engine:
    """Resolve the model (fetching a built-in one if needed) and construct the engine.

    With base URLs (`--model http://a/v1,http://b/v1`) the engine is openai and no model is resolved:
    a non-URL `model` (or `served_model_name`) is the name sent to the servers, otherwise each server's
    `/v1/models` names it."""
    name = config.engine
    if config.base_urls and name in ("auto", "openai"):
        return _openai_engine(config, list(config.base_urls), _served_name(config))
    needs_model = name != "replay"
    model = resolve_model(config.model, progress) if needs_model or config.model else None
    name = pick_engine(config, model)
    if name == "openai":
        urls = list(config.base_urls) or ([model.location] if model and model.kind == "url" else [])
        served = config.served_model_name or (model.name if model and model.kind != "url" else None)
        return _openai_engine(config, urls, served)
    if name == "llamacpp":
        from aimo.engines.llamacpp import LlamaCppEngine

        if model is None or model.kind != "gguf":
            raise EngineError(f"the llamacpp engine needs a GGUF file, got {config.model!r}")
        return LlamaCppEngine(
            model.location,
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            n_batch=config.n_batch,
            max_sequences=config.max_sequences,
            flash_attn=config.flash_attn,
        )
    if name == "vllm":
        from aimo.engines.vllm import VLLMEngine

        if model is None or model.kind == "url":
            raise EngineError("the vllm engine needs a model directory, hub id or GGUF file")
        return VLLMEngine(model.location, **config.vllm_args)
    if name == "replay":
        from aimo.engines.replay import ReplayEngine

        if not config.traces:
            raise EngineError("the replay engine needs a trace file (--traces FILE)")
        return ReplayEngine.from_config(config)
    raise EngineError(f"unknown engine {name!r}")


def _served_name(config: EngineConfig) -> str | None:
    """The model name to send: `served_model_name`, else a `model` that is not a URL, else None."""
    if config.served_model_name:
        return config.served_model_name
    if config.model and not config.model.startswith(("http://", "https://")):
        return config.model
    return None


def _openai_engine(config: EngineConfig, urls: list[str], served: str | None) -> Engine:
    from aimo.engines.openai import OpenAIEngine

    return OpenAIEngine(
        urls,
        api=config.api,
        model=served,
        api_key=config.api_key,
        request_timeout_s=config.request_timeout_s,
        connect_retries=config.connect_retries,
        chat_template=config.chat_template,
        reasoning_effort=config.reasoning_effort,
        extra_body=config.extra_body,
    )


@contextlib.asynccontextmanager
async def open_engine(config: EngineConfig, progress: Progress | None = None) -> AsyncIterator[Engine]:
    """Create an engine (off the event loop: loading a model blocks) and close it afterwards."""
    engine = await asyncio.to_thread(create_engine, config, progress)
    try:
        yield engine
    finally:
        await engine.aclose()
