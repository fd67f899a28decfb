"""Any OpenAI-compatible server (vLLM, SGLang, lmdeploy, TensorRT-LLM, llama.cpp): streaming over HTTP.

Requests are spread across one or several base URLs (the least busy first). Connection errors and
5xx answers before the first token are retried with backoff, on the other URLs too; a stream that
breaks after its first token, or ends without a finish reason, is an error, never an empty answer.
Closing the stream (cancelling the consumer) closes the HTTP response, which makes the server abort.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any, Literal

import httpx

from aimo.engines.base import Chunk, EngineError, GenerationRequest, ToolCall

log = logging.getLogger(__name__)

_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError)
_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "eos": "stop",
    "abort": "abort",
    "tool_calls": "tool_calls",
}
_TOP_LOGPROBS = 5


def normalize_base_url(url: str) -> str:
    """`http://host:8000` → `http://host:8000/v1`; a URL that already names a path is kept."""
    url = url.rstrip("/")
    return url if httpx.URL(url).path not in ("", "/") else url + "/v1"


class _ServerError(Exception):
    """A retryable failure before the first token (5xx or connection trouble)."""


class OpenAIEngine:
    """The `openai` engine: chat or completions API, streaming, over one or several servers."""

    name = "openai"

    def __init__(
        self,
        base_urls: Sequence[str],
        *,
        api: Literal["chat", "completions"] = "chat",
        model: str | None = None,
        api_key: str | None = None,
        request_timeout_s: float = 600.0,
        connect_retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        if not base_urls:
            raise EngineError("the openai engine needs at least one base URL (--model http://host:port/v1)")
        self.base_urls = [normalize_base_url(u) for u in base_urls]
        self.api = api
        self.model = model
        self.connect_retries = connect_retries
        self.backoff_s = backoff_s
        self._in_flight = dict.fromkeys(self.base_urls, 0)
        self.requests_sent = dict.fromkeys(self.base_urls, 0)
        self._rotation = itertools.count()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(request_timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
        )
        self._model_names: dict[str, str] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Stream one request; retry before the first token, fail loudly after it."""
        failures: list[str] = []
        for attempt in range(self.connect_retries + 1):
            url = self._pick_url()
            self._in_flight[url] += 1
            try:
                # aclosing: when our consumer stops early, the HTTP response is closed right away (so
                # the server aborts the generation), not whenever the inner generator is collected.
                async with aclosing(self._stream_once(url, request)) as chunks:
                    async for chunk in chunks:
                        yield chunk
                return
            except _ServerError as exc:  # raised only before the first chunk, so a retry duplicates nothing
                failures.append(f"{url}: {exc}")
                log.info("openai engine: %s (attempt %d)", failures[-1], attempt + 1)
            finally:
                self._in_flight[url] -= 1
            if attempt < self.connect_retries:
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise EngineError("no answer from the server: " + "; ".join(dict.fromkeys(failures)))

    def _pick_url(self) -> str:
        turn = next(self._rotation)
        order = self.base_urls[turn % len(self.base_urls) :] + self.base_urls[: turn % len(self.base_urls)]
        return min(order, key=self._in_flight.__getitem__)

    async def model_name(self, url: str) -> str:
        """The model to ask for: the configured name, else the first one the server lists."""
        if self.model:
            return self.model
        if url not in self._model_names:
            try:
                response = await self._client.get(f"{url}/models", timeout=10.0)
                response.raise_for_status()
                self._model_names[url] = response.json()["data"][0]["id"]
            except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
                raise _ServerError(f"could not list models ({type(exc).__name__}: {exc})") from exc
        return self._model_names[url]

    def request_body(self, request: GenerationRequest, model: str) -> tuple[str, dict[str, Any]]:
        """The API path and JSON body this engine sends for `request`."""
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.min_p > 0:
            body["min_p"] = request.min_p  # vLLM / SGLang / llama.cpp extension
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if self.api == "completions" or request.prompt is not None:
            if request.prompt is None:
                raise EngineError("the completions API needs a text prompt; use api='chat' for messages")
            body["prompt"] = request.prompt + request.assistant_prefix
            if request.logprobs:
                body["logprobs"] = _TOP_LOGPROBS
            return "completions", body
        messages = [dict(m) for m in request.messages or ()]
        if request.assistant_prefix:
            # vLLM / SGLang extension: continue the last assistant message instead of opening a new turn.
            messages.append({"role": "assistant", "content": request.assistant_prefix})
            body.update(continue_final_message=True, add_generation_prompt=False)
        body["messages"] = messages
        if request.tools:
            body["tools"] = [dict(tool) for tool in request.tools]
        if request.logprobs:
            body.update(logprobs=True, top_logprobs=_TOP_LOGPROBS)
        return "chat/completions", body

    async def _stream_once(self, url: str, request: GenerationRequest) -> AsyncIterator[Chunk]:
        path, body = self.request_body(request, await self.model_name(url))
        self.requests_sent[url] += 1
        finish: str | None = None
        usage: dict[str, Any] = {}
        calls: dict[int, dict[str, str]] = {}  # tool calls arrive in pieces, keyed by their index
        n_chunks = 0
        try:
            async with self._client.stream("POST", f"{url}/{path}", json=body) as response:
                if response.status_code >= 500:
                    raise _ServerError(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    detail = (await response.aread()).decode(errors="replace")[:300]
                    raise EngineError(f"{url} refused the request: HTTP {response.status_code} {detail}")
                async for event in _sse_events(response):
                    if event.get("usage"):
                        usage = event["usage"]
                    for choice in event.get("choices") or ():
                        text, logprobs = _choice_delta(choice)
                        _gather_tool_calls(choice, calls)
                        finish = choice.get("finish_reason") or finish
                        if text or logprobs:
                            n_chunks += 1
                            yield Chunk(text=text, tokens=max(1, len(logprobs)), logprobs=logprobs)
        except httpx.HTTPError as exc:
            if n_chunks or not isinstance(exc, _RETRYABLE):
                raise EngineError(
                    f"stream from {url} failed after {n_chunks} chunks: {type(exc).__name__}: {exc}"
                ) from exc
            raise _ServerError(f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        if finish is None:
            raise EngineError(
                f"stream from {url} ended without a finish reason after {n_chunks} chunks "
                "(a llama.cpp server started without --interrupt_requests False does this)"
            )
        yield Chunk(
            finish_reason=_FINISH_REASONS.get(finish, "stop"),  # type: ignore[arg-type]
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens", n_chunks),
            tool_calls=[ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())],
        )


def _gather_tool_calls(choice: dict[str, Any], calls: dict[int, dict[str, str]]) -> None:
    """Add the pieces of tool calls in a streamed chat delta to `calls`."""
    for piece in (choice.get("delta") or {}).get("tool_calls") or ():
        call = calls.setdefault(piece.get("index", len(calls)), {"id": "", "name": "", "arguments": ""})
        call["id"] = piece.get("id") or call["id"]
        function = piece.get("function") or {}
        call["name"] = function.get("name") or call["name"]
        call["arguments"] += function.get("arguments") or ""


def _choice_delta(choice: dict[str, Any]) -> tuple[str, list[list[float]]]:
    """Text and top log-probabilities of one streamed choice (chat or completions shape)."""
    text = choice.get("text")
    if text is None:
        text = (choice.get("delta") or {}).get("content") or ""
    logprobs: list[list[float]] = []
    lp = choice.get("logprobs") or {}
    for entry in lp.get("content") or ():  # chat shape
        logprobs.append(sorted((t["logprob"] for t in entry.get("top_logprobs") or ()), reverse=True))
    for top in lp.get("top_logprobs") or ():  # completions shape
        logprobs.append(sorted((top or {}).values(), reverse=True))
    return text, logprobs


async def _sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse a server-sent-events body into JSON objects, until `[DONE]`."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise EngineError(f"malformed event from the server: {data[:200]}") from exc
        if "error" in event:
            raise EngineError(f"server error: {str(event['error'])[:300]}")
        yield event
