"""In-process vLLM through its v1 `AsyncLLM`: continuous batching and prefix caching, no server.

Each `stream()` is one vLLM request streamed in `DELTA` mode. The prompt is rendered here (the
model's chat template, then the assistant's prefix) and tokenized once, so what the model sees is
exactly what `render_prompt` returns; stop strings, sampling and log-probabilities are vLLM's own.
Closing the stream (or cancelling its consumer) aborts the request, which frees its KV cache.
vLLM is an optional extra (`aimo[vllm]`) and is imported only when the engine is built.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from aimo.engines.base import Chunk, EngineError, FinishReason, GenerationRequest
from aimo.engines.vllm_cpu import cpu_gap

_TOP_LOGPROBS = 5
_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "abort": "abort",
    "repetition": "stop",
}


def _import_vllm() -> SimpleNamespace:
    try:
        from vllm import SamplingParams
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.sampling_params import RequestOutputKind
        from vllm.v1.engine.async_llm import AsyncLLM
    except ImportError as exc:
        raise EngineError(
            "the vllm engine needs vLLM: pip install 'aimo[vllm]' (CPU-only machines: see "
            f"docs/engines-vllm.md) [{type(exc).__name__}: {exc}]"
        ) from exc
    return SimpleNamespace(
        AsyncLLM=AsyncLLM,
        AsyncEngineArgs=AsyncEngineArgs,
        SamplingParams=SamplingParams,
        RequestOutputKind=RequestOutputKind,
    )


class VLLMEngine:
    """The `vllm` engine: a Hugging Face model (directory or hub id) served by an in-process AsyncLLM.

    `engine_args` go to vLLM's `AsyncEngineArgs` unchanged (`max_model_len`, `gpu_memory_utilization`,
    `enable_prefix_caching`, `tensor_parallel_size`, ...). Building loads the model and blocks.
    """

    name = "vllm"

    def __init__(self, model: str, **engine_args: Any) -> None:
        self._vllm = _import_vllm()
        self.model = model
        gap = cpu_gap(model, engine_args)
        if gap is not None:
            raise EngineError(f"vLLM cannot run {model} here: {gap}")
        try:
            args = self._vllm.AsyncEngineArgs(model=model, **engine_args)
        except TypeError as exc:
            raise EngineError(f"unknown vllm engine argument: {exc}") from exc
        try:
            self._llm: Any = self._vllm.AsyncLLM.from_engine_args(args)
        except Exception as exc:
            raise EngineError(f"vLLM could not load {model}: {type(exc).__name__}: {exc}") from exc
        self._tokenizer = self._llm.get_tokenizer()
        self.max_model_len: int = self._llm.model_config.max_model_len
        self._request_ids = itertools.count()
        # One thread: fast tokenizers must not be used from several threads at once.
        self._render_pool = ThreadPoolExecutor(1, thread_name_prefix="aimo-vllm-render")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # --- public API -----------------------------------------------------------------------

    @property
    def async_llm(self) -> Any:
        """The underlying `AsyncLLM`, for what this engine does not wrap (metrics, pausing, caches)."""
        return self._llm

    @property
    def unfinished_requests(self) -> int:
        """Requests vLLM still tracks (0 once every stream has finished or been aborted)."""
        return 0 if self._llm is None else int(self._llm.get_num_unfinished_requests())

    def render_prompt(self, request: GenerationRequest) -> str:
        """The exact text the model sees: the chat template applied, then the assistant's prefix."""
        if request.prompt is not None:
            return request.prompt + request.assistant_prefix
        text = self._tokenizer.apply_chat_template(
            list(request.messages or ()), add_generation_prompt=True, tokenize=False
        )
        return str(text) + request.assistant_prefix

    def prompt_token_ids(self, request: GenerationRequest) -> list[int]:
        """The rendered prompt as token ids. A chat template writes its own special tokens; a raw
        prompt gets the model's (e.g. BOS) unless it already starts with them."""
        text = self.render_prompt(request)
        bos = getattr(self._tokenizer, "bos_token", None)
        add_special = request.prompt is not None and not (bos and text.startswith(bos))
        return list(self._tokenizer.encode(text, add_special_tokens=add_special))

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        """Submit the request to vLLM and yield its text deltas; closing the stream aborts it."""
        if self._closed:
            raise EngineError("vllm engine is closed")
        if getattr(request, "tools", ()):
            raise EngineError(
                "the vllm engine does not parse tool calls; serve the model with `vllm serve "
                "--enable-auto-tool-choice --tool-call-parser ...` and use the openai engine"
            )
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:  # vLLM's output handler and sockets live in the first loop
            raise EngineError("the vllm engine serves one event loop: stream from the loop it first ran in")
        try:
            token_ids = await loop.run_in_executor(self._render_pool, self.prompt_token_ids, request)
            engine_input = await self._engine_input(token_ids)
        except Exception as exc:
            raise EngineError(f"could not render or tokenize the prompt: {exc}") from exc
        llm, request_id = self._llm, f"aimo-{next(self._request_ids)}"
        outputs = llm.generate(engine_input, self._sampling_params(request), request_id)
        n_generated = 0
        finished = False
        try:
            async for output in outputs:
                completion = output.outputs[0]
                n_new = len(completion.token_ids)
                n_generated += n_new
                logprobs = _top_logprobs(completion.logprobs) if request.logprobs else []
                reason = completion.finish_reason
                if reason is None:
                    if completion.text or logprobs:
                        yield Chunk(text=completion.text, tokens=n_new, logprobs=logprobs)
                    continue
                finished = True
                if reason == "error":
                    raise EngineError(f"vLLM failed request {request_id}: {getattr(output, 'error', '')}")
                yield Chunk(
                    text=completion.text,
                    tokens=n_new,
                    finish_reason=_FINISH_REASONS.get(reason, "stop"),
                    prompt_tokens=len(token_ids),
                    completion_tokens=n_generated,
                    logprobs=logprobs,
                )
                return
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"vLLM request failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if not finished:  # closed or cancelled mid-way: stop the generation on the engine
                try:
                    await llm.abort(request_id)
                finally:
                    await outputs.aclose()
        raise EngineError(f"vLLM stream {request_id} ended without a finish reason")

    async def aclose(self) -> None:
        """Shut the engine (and its engine-core process) down."""
        if self._closed:
            return
        self._closed = True
        self._render_pool.shutdown(wait=False, cancel_futures=True)
        # Stop vLLM's output handler first, or it reports the engine core's exit as a failure.
        handler = getattr(self._llm, "output_handler", None)
        if handler is not None:
            handler.cancel()
            await asyncio.wait([handler])
        await asyncio.to_thread(self._llm.shutdown)
        self._llm = None  # dropped now: AsyncLLM's __del__ at interpreter exit fails noisily

    # --- helpers ------------------------------------------------------------------------------

    async def _engine_input(self, token_ids: list[int]) -> Any:
        """A tokens prompt, put through vLLM's renderer where this version has one."""
        prompt = {"prompt_token_ids": token_ids}
        renderer = getattr(self._llm, "renderer", None)
        if renderer is None or not hasattr(renderer, "render_cmpl_async"):
            return prompt  # older vLLM takes the TokensPrompt as it is
        (engine_input,) = await renderer.render_cmpl_async([prompt])
        return engine_input

    def _sampling_params(self, request: GenerationRequest) -> Any:
        return self._vllm.SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            min_p=request.min_p,
            seed=request.seed,
            stop=list(request.stop),
            logprobs=_TOP_LOGPROBS if request.logprobs else None,
            output_kind=self._vllm.RequestOutputKind.DELTA,
        )


def _top_logprobs(positions: Any) -> list[list[float]]:
    """Per generated token, its top log-probabilities, highest first (vLLM adds the sampled one)."""
    return [
        sorted((entry.logprob for entry in (top or {}).values()), reverse=True)[:_TOP_LOGPROBS]
        for top in positions or ()
    ]
