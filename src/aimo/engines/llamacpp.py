"""In-process llama.cpp through llama-cpp-python's low-level API, with continuous batching.

All concurrent `stream()` calls are decoded together: one worker thread owns the llama.cpp context
and, each step, puts the next token of every running sequence into one multi-sequence `llama_batch`.
The KV cache is unified, so sequences that share a prompt prefix (the N samples of one problem, or a
tool-integrated sample continuing after its code output) share its cells: the prefix is computed
once and copied with `llama_memory_seq_cp`, which only tags cells. Finished sequences stay in the
cache until their slot or space is needed, so a continuation finds its prefix already computed.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import math
import os
import queue
import random
import threading
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aimo.engines.base import Chunk, EngineError, FinishReason, GenerationRequest
from aimo.engines.textstream import StopTextStream

log = logging.getLogger(__name__)

_MIN_SHARED_PREFIX = 8  # below this, copying cells is not worth the bookkeeping
_TOP_LOGPROBS = 5
_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise EngineError("the llamacpp engine needs llama-cpp-python: pip install 'aimo[llamacpp]'") from exc
    return llama_cpp


@dataclass
class LlamaCppStats:
    """Counters of the batched decoder (read them to see batching and prefix sharing at work)."""

    peak_batch: int = 0  # the most sequences decoded in one step
    prompt_tokens_reused: int = 0  # prompt tokens found already computed in the KV cache
    prompt_tokens_computed: int = 0
    tokens_generated: int = 0
    cancelled: int = 0
    evicted_full: int = 0  # sequences ended early because the KV cache was full


@dataclass(eq=False)
class _Sequence:
    """One request being decoded; touched only by the worker thread, except `cancelled`."""

    request: GenerationRequest
    emit: Any  # callable(Chunk | Exception), thread-safe
    cancelled: threading.Event = field(default_factory=threading.Event)
    slot: int = -1
    tokens: list[int] = field(default_factory=list)  # prompt + generated; KV holds tokens[:n_past]
    n_past: int = 0
    n_prompt: int = 0
    n_generated: int = 0
    next_token: int = -1
    unreported: int = 0  # tokens generated since the last chunk (text can be held back by stop strings)
    sampler: Any = None
    text: StopTextStream | None = None


class LlamaCppEngine:
    """The `llamacpp` engine: a GGUF model decoded in-process, all concurrent requests batched."""

    name = "llamacpp"

    def __init__(
        self,
        model_path: str,
        *,
        n_ctx: int = 32768,
        n_threads: int | None = None,
        n_batch: int = 512,
        max_sequences: int = 16,
        flash_attn: bool | None = None,
        verbose: bool = False,
    ) -> None:
        llama_cpp = _import_llama_cpp()
        from llama_cpp import _internals, _logger

        _logger.set_verbose(verbose)

        self._ll = llama_cpp
        threads = n_threads or len(os.sched_getaffinity(0))
        try:
            self._model = _internals.LlamaModel(
                path_model=model_path, params=llama_cpp.llama_model_default_params(), verbose=verbose
            )
        except (ValueError, OSError) as exc:
            raise EngineError(f"llama.cpp could not load {model_path}: {exc}") from exc
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_threads = params.n_threads_batch = threads
        params.n_seq_max = max_sequences
        params.kv_unified = True
        if flash_attn is not None:  # None: llama.cpp decides (auto)
            params.flash_attn_type = (
                llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
                if flash_attn
                else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
            )
        self._ctx = _internals.LlamaContext(model=self._model, params=params, verbose=verbose)
        self._batch = _internals.LlamaBatch(
            n_tokens=max(n_batch, max_sequences), embd=0, n_seq_max=1, verbose=verbose
        )
        self._internals = _internals
        self.model_path = model_path
        self.n_ctx = self._ctx.n_ctx()
        self.n_batch = n_batch
        self.max_sequences = max_sequences
        self.n_threads = threads
        self.max_positions = min(self.n_ctx, self._model.n_ctx_train() or self.n_ctx)
        self._n_vocab = self._model.n_vocab()
        self._piece_buf = ctypes.create_string_buffer(64)
        self._scratch = np.empty(self._n_vocab, dtype=np.float32)  # for the logprobs' log-sum-exp
        self._chat = self._make_chat_formatter()
        self._inbox: queue.SimpleQueue[_Sequence | None] = queue.SimpleQueue()
        self._active: list[_Sequence] = []
        self._retained: dict[int, list[int]] = {}  # slot -> tokens whose KV is kept (insertion = LRU order)
        self._closed = False
        self.stats = LlamaCppStats()
        self._worker = threading.Thread(target=self._run, name="aimo-llamacpp", daemon=True)
        self._worker.start()

    # --- public API -----------------------------------------------------------------------

    def render_prompt(self, request: GenerationRequest) -> str:
        """The exact text the model sees: the chat template applied, then the assistant's prefix."""
        if request.prompt is not None:
            return request.prompt + request.assistant_prefix
        chat = self._chat(messages=list(request.messages or ()), add_generation_prompt=True)
        return chat + request.assistant_prefix

    def count_tokens(self, text: str) -> int:
        """Number of tokens of `text` as this model tokenizes a prompt."""
        return len(self._tokenize(text))

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        """Queue the request for the batched decoder and yield its text deltas as they come."""
        if self._closed:
            raise EngineError("llamacpp engine is closed")
        loop = asyncio.get_running_loop()
        out: asyncio.Queue[Chunk | Exception] = asyncio.Queue()
        seq = _Sequence(request=request, emit=lambda item: loop.call_soon_threadsafe(out.put_nowait, item))
        self._inbox.put(seq)
        try:
            while True:
                item = await out.get()
                if isinstance(item, Exception):
                    raise item
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            seq.cancelled.set()  # a no-op after the end; otherwise the worker drops the sequence

    async def aclose(self) -> None:
        """Stop the worker thread and free the model."""
        if self._closed:
            return
        self._closed = True
        self._inbox.put(None)
        await asyncio.to_thread(self._worker.join)
        self._batch.close()
        self._ctx.close()
        self._model.close()

    # --- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._closed:
            try:
                self._admit(block=not self._active)
                self._active = [s for s in self._active if not self._drop_if_cancelled(s)]
                if self._active:
                    self._step()
            except Exception as exc:  # never leave a consumer waiting forever
                log.exception("llamacpp worker error")
                for seq in self._active:
                    seq.emit(EngineError(f"llama.cpp decode failed: {exc}"))
                    self._forget(seq.slot)
                self._active = []
        for seq in self._active:
            seq.emit(EngineError("llamacpp engine closed"))

    def _admit(self, block: bool) -> None:
        while len(self._active) < self.max_sequences:
            try:
                seq = self._inbox.get(block=block, timeout=0.5 if block else None)
            except queue.Empty:
                return
            if seq is None:
                self._closed = True
                return
            block = False
            if seq.cancelled.is_set():
                continue
            try:
                running = self._start(seq)
            except EngineError as exc:
                seq.emit(exc)
                continue
            if running:
                self._active.append(seq)

    def _start(self, seq: _Sequence) -> bool:
        """Tokenize, reuse the longest cached prefix, prefill the rest, sample the first token.

        Returns False when the sequence already finished (e.g. its first token ends it)."""
        request = seq.request
        try:
            prompt = self._tokenize(self.render_prompt(request))
        except Exception as exc:
            raise EngineError(f"could not render or tokenize the prompt: {exc}") from exc
        if len(prompt) >= self.max_positions:
            raise EngineError(f"prompt has {len(prompt)} tokens; the context holds {self.max_positions}")
        seq.tokens, seq.n_prompt = list(prompt), len(prompt)
        seq.text = StopTextStream(request.stop)
        seq.sampler = self._make_sampler(request)
        seq.slot, seq.n_past = self._place(prompt)
        self.stats.prompt_tokens_reused += seq.n_past
        self.stats.prompt_tokens_computed += len(prompt) - seq.n_past
        last_index = -1
        for start in range(seq.n_past, len(prompt), self.n_batch):
            piece = prompt[start : start + self.n_batch]
            self._batch.reset()
            for j, token in enumerate(piece):
                self._add(token, start + j, seq.slot, logits=start + j == len(prompt) - 1)
            self._decode()
            last_index = len(piece) - 1
        seq.n_past = len(prompt)
        return self._accept(seq, last_index)

    def _place(self, prompt: list[int]) -> tuple[int, int]:
        """Pick a KV slot for a new sequence and how many prompt tokens it already has there."""
        sources = {s.slot: s.tokens[: s.n_past] for s in self._active}
        sources.update(self._retained)
        best_slot, best = -1, 0
        for slot, tokens in sources.items():
            n = _common_prefix(tokens, prompt)
            if n > best:
                best_slot, best = slot, n
        reuse = min(best, len(prompt) - 1)  # the last prompt token is decoded again for its logits
        if reuse >= _MIN_SHARED_PREFIX and best_slot in self._retained:
            del self._retained[best_slot]
            self._ctx.kv_cache_seq_rm(best_slot, reuse, -1)
            return best_slot, reuse
        slot = self._free_slot(keep=best_slot)
        if reuse >= _MIN_SHARED_PREFIX:
            self._ctx.kv_cache_seq_cp(best_slot, slot, 0, reuse)
            return slot, reuse
        return slot, 0

    def _free_slot(self, keep: int) -> int:
        busy = {s.slot for s in self._active}
        for slot in range(self.max_sequences):
            if slot not in busy and slot not in self._retained:
                return slot
        for slot in list(self._retained):  # least recently retained first
            if slot != keep:
                self._forget(slot)
                return slot
        raise EngineError("no free sequence slot")  # unreachable: admission caps active sequences

    def _forget(self, slot: int) -> None:
        self._retained.pop(slot, None)
        if slot >= 0:
            self._ctx.kv_cache_seq_rm(slot, -1, -1)

    def _drop_if_cancelled(self, seq: _Sequence) -> bool:
        if seq.cancelled.is_set():
            self._forget(seq.slot)
            self.stats.cancelled += 1
            return True
        return False

    def _step(self) -> None:
        """Decode one token of every active sequence in a single batch.

        When the KV cache is full even after evicting retained sequences, the longest running
        sequence ends with finish reason "length" (as it would at the context limit) and the step
        is retried without it, so the others go on."""
        while True:
            self._batch.reset()
            for seq in self._active:
                self._add(seq.next_token, seq.n_past, seq.slot, logits=True)
            if self._decode(raise_when_full=len(self._active) == 1):
                break
            longest = max(self._active, key=lambda s: s.n_past)
            assert longest.text is not None
            self._finish(longest, "length", longest.text.flush(), [])
            self._forget(longest.slot)
            self._active.remove(longest)
            self.stats.evicted_full += 1
        self.stats.peak_batch = max(self.stats.peak_batch, len(self._active))
        still: list[_Sequence] = []
        for i, seq in enumerate(self._active):
            seq.n_past += 1
            if self._accept(seq, i):
                still.append(seq)
        self._active = still

    def _accept(self, seq: _Sequence, batch_index: int) -> bool:
        """Sample this sequence's next token from the batch's logits; False when it finished."""
        request = seq.request
        logprobs = self._top_logprobs(batch_index) if request.logprobs else []
        token = seq.sampler.sample(self._ctx, batch_index)
        assert seq.text is not None
        if self._ll.llama_vocab_is_eog(self._model.vocab, token):
            return self._finish(seq, "stop", seq.text.flush(), logprobs)
        seq.tokens.append(token)
        seq.n_generated += 1
        seq.unreported += 1
        self.stats.tokens_generated += 1
        delta = seq.text.feed(self._piece(token))
        if seq.text.stopped:
            return self._finish(seq, "stop", delta, logprobs)
        if seq.n_generated >= request.max_tokens or seq.n_past + 1 >= self.max_positions:
            return self._finish(seq, "length", delta + seq.text.flush(), logprobs)
        if delta or logprobs:
            seq.emit(Chunk(text=delta, tokens=seq.unreported, logprobs=[logprobs] if logprobs else []))
            seq.unreported = 0
        seq.next_token = token
        return True

    def _finish(self, seq: _Sequence, reason: FinishReason, text: str, logprobs: list[float]) -> bool:
        seq.emit(
            Chunk(
                text=text,
                tokens=seq.unreported,
                finish_reason=reason,
                prompt_tokens=seq.n_prompt,
                completion_tokens=seq.n_generated,
                logprobs=[logprobs] if logprobs else [],
            )
        )
        seq.sampler.close()
        self._retained[seq.slot] = seq.tokens[: seq.n_past]
        return False

    # --- llama.cpp helpers --------------------------------------------------------------------

    def _add(self, token: int, pos: int, slot: int, logits: bool) -> None:
        b = self._batch.batch
        i = b.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
        b.seq_id[i][0] = slot
        b.n_tokens = i + 1

    def _decode(self, raise_when_full: bool = True) -> bool:
        """Decode the batch; when the KV cache is full, evict retained sequences first.

        Returns False when the cache is still full and `raise_when_full` is off."""
        while (code := self._ll.llama_decode(self._ctx.ctx, self._batch.batch)) == 1 and self._retained:
            self._forget(next(iter(self._retained)))
        if code == 1 and not raise_when_full:
            return False
        if code != 0:
            raise EngineError(
                f"llama_decode returned {code}: the KV cache of {self.n_ctx} tokens is full (raise n_ctx)"
                if code == 1
                else f"llama_decode returned {code}"
            )
        return True

    def _piece(self, token: int) -> bytes:
        n = self._ll.llama_token_to_piece(
            self._model.vocab, token, self._piece_buf, len(self._piece_buf), 0, False
        )
        if n < 0:  # buffer too small: grow to the size llama.cpp asked for
            self._piece_buf = ctypes.create_string_buffer(-n)
            return self._piece(token)
        return self._piece_buf.raw[:n]

    def _top_logprobs(self, batch_index: int) -> list[float]:
        """The top log-probabilities of a batch row: read in place from llama.cpp's logits (no copy
        of the row into Python objects); the log-sum-exp goes through one reused scratch buffer."""
        ptr = self._ll.llama_get_logits_ith(self._ctx.ctx, batch_index)
        row = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
        peak = float(row.max())
        np.subtract(row, peak, out=self._scratch)
        np.exp(self._scratch, out=self._scratch)
        log_total = peak + math.log(float(self._scratch.sum(dtype=np.float64)))
        top = np.argpartition(row, -_TOP_LOGPROBS)[-_TOP_LOGPROBS:]
        return sorted((float(row[i]) - log_total for i in top), reverse=True)

    def _make_sampler(self, request: GenerationRequest) -> Any:
        sampler = self._internals.LlamaSampler()
        if request.temperature <= 0:
            sampler.add_greedy()
            return sampler
        if request.top_p < 1.0:
            sampler.add_top_p(request.top_p, 1)
        if request.min_p > 0.0:
            sampler.add_min_p(request.min_p, 1)
        sampler.add_temp(request.temperature)
        sampler.add_dist(request.seed if request.seed is not None else random.getrandbits(32))
        return sampler

    def _tokenize(self, text: str) -> list[int]:
        bos = self._model.token_bos()
        add_bos = self._model.add_bos_token() and not text.startswith(self._token_text(bos))
        return self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def _token_text(self, token: int) -> str:
        return self._model.token_get_text(token) if token >= 0 else "\0"

    def _make_chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._model.metadata().get("tokenizer.chat_template") or _CHATML
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(self._model.token_eos()),
            bos_token=self._token_text(self._model.token_bos()),
        )
        env = formatter._environment

        def render(messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
            return env.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=formatter.bos_token,
                eos_token=formatter.eos_token,
                raise_exception=_raise,
                strftime_now=formatter.strftime_now,
            )

        return render


def _raise(message: str) -> None:
    raise ValueError(message)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
