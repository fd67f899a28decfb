"""Any OpenAI-compatible server (vLLM, SGLang, lmdeploy, TensorRT-LLM, llama.cpp): streaming over HTTP.

Requests are spread across one or several base URLs (the one with the fewest requests in flight
first). Connection errors and 5xx answers before the first token are retried with backoff, on the
other URLs too; a stream that breaks after its first token, or ends without a finish reason, is an
error, never an empty answer. Closing the stream (cancelling the consumer) closes the HTTP response,
which makes the server abort.

An endpoint whose connection fails is taken out (one warning line): its streams in flight fail, new
requests go to the others, and it is re-probed (`/models`) in the background and taken back when it
answers (one more line).

Reasoning that a server's reasoning parser splits off (`reasoning_content` from vLLM / SGLang /
llama.cpp, `reasoning` from newer vLLM) is kept in the text between `<think>` and `</think>`.
On the completions API with a chat template, aimo renders the prompt itself (`aimo.engines.template`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Literal

import httpx

from aimo.engines.base import (
    THINK_END,
    THINK_START,
    Chunk,
    EngineError,
    FinishReason,
    GenerationRequest,
    ToolCall,
    ends_inside_thinking,
)
from aimo.engines.harmony import HARMONY, HarmonyFormat, HarmonyReader, ReasoningEffort
from aimo.engines.template import ChatTemplate, load_chat_template

log = logging.getLogger(__name__)

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "eos": "stop",
    "abort": "abort",
    "tool_calls": "tool_calls",
}
_TOP_LOGPROBS = 5
# The connection to the server is gone: the endpoint is taken out, and a request that had streamed
# nothing yet is tried again (elsewhere, when there is another endpoint).
_CONNECTION_LOST = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError)


def normalize_base_url(url: str) -> str:
    """`http://host:8000` → `http://host:8000/v1`; a URL that already names a path is kept."""
    url = url.rstrip("/")
    return url if httpx.URL(url).path not in ("", "/") else url + "/v1"


class _ServerError(Exception):
    """A retryable failure before the first token (5xx or connection trouble)."""

    def __init__(self, message: str, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.connection_lost = connection_lost


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
        chat_template: str | ChatTemplate | HarmonyFormat | None = None,
        probe_interval_s: float = 2.0,
        reasoning_effort: ReasoningEffort | None = None,
        extra_body: Mapping[str, Any] | None = None,
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
        self.reasoning_effort = reasoning_effort
        self.extra_body = dict(extra_body or {})
        self.template = _template(chat_template, reasoning_effort)
        self.probe_interval_s = probe_interval_s
        self._down: set[str] = set()
        self._probes: dict[str, asyncio.Task[None]] = {}

    async def aclose(self) -> None:
        for task in self._probes.values():
            task.cancel()
        await asyncio.gather(*self._probes.values(), return_exceptions=True)
        await self._client.aclose()

    def render_prompt(self, request: GenerationRequest) -> str:
        """The text the completions API gets for `request` (chat requests need a chat template)."""
        if request.prompt is not None:
            return request.prompt + request.assistant_prefix
        if self.template is None:
            raise EngineError(
                "the completions API needs a chat template to render messages (--chat-template: "
                "a GGUF file, model directory, template file, hub id or 'harmony'), or use api='chat'"
            )
        if isinstance(self.template, HarmonyFormat):
            return self.template.render_request(request)
        return self.template.render(request.messages or (), request.assistant_prefix, tools=request.tools)

    def is_up(self, url: str) -> bool:
        """Whether `url` is in the rotation (not taken out after a failed connection)."""
        return normalize_base_url(url) not in self._down

    def _take_out(self, url: str, reason: str) -> None:
        """Take a dead endpoint out of the rotation and re-probe it in the background."""
        if url in self._down:
            return
        self._down.add(url)
        left = len(self.base_urls) - len(self._down)
        where = (
            f"{left} other endpoint(s) take new requests" if left else "it is the only one, so it keeps them"
        )
        log.warning(
            "openai engine: endpoint %s is not answering (%s); %s; re-probing it every %g s",
            url,
            reason,
            where,
            self.probe_interval_s,
        )
        self._probes[url] = asyncio.get_running_loop().create_task(self._probe(url))

    async def _probe(self, url: str) -> None:
        while True:
            await asyncio.sleep(self.probe_interval_s)
            try:
                response = await self._client.get(f"{url}/models", timeout=5.0)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                self._down.discard(url)
                self._probes.pop(url, None)
                log.warning("openai engine: endpoint %s answers again; taken back into the rotation", url)
                return

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
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
                if exc.connection_lost and len(self.base_urls) > 1:
                    self._take_out(url, str(exc))
                    continue  # another endpoint at once; the backoff is for when all are in trouble
            finally:
                self._in_flight[url] -= 1
            if attempt < self.connect_retries:
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise EngineError("no answer from the server: " + "; ".join(dict.fromkeys(failures)))

    def _pick_url(self) -> str:
        """The endpoint with the fewest requests in flight (ties in turn), among those that are up."""
        urls = [u for u in self.base_urls if u not in self._down] or self.base_urls
        turn = next(self._rotation) % len(urls)
        return min(urls[turn:] + urls[:turn], key=self._in_flight.__getitem__)

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
            body["prompt"] = self.render_prompt(request)
            if request.logprobs:
                body["logprobs"] = _TOP_LOGPROBS
            if isinstance(self.template, HarmonyFormat) and request.prompt is None:
                body.update(self.template.request_extras())
            return "completions", body | self.extra_body
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
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort  # gpt-oss on vLLM / SGLang
        return "chat/completions", body | self.extra_body

    async def _stream_once(self, url: str, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        path, body = self.request_body(request, await self.model_name(url))
        self.requests_sent[url] += 1
        harmony = (
            self.template.reader(request.assistant_prefix)
            if isinstance(self.template, HarmonyFormat) and path == "completions" and request.prompt is None
            else None
        )
        reader = _EventReader(request, harmony)
        try:
            async with self._client.stream("POST", f"{url}/{path}", json=body) as response:
                if response.status_code >= 500:
                    raise _ServerError(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    detail = (await response.aread()).decode(errors="replace")[:300]
                    raise EngineError(f"{url} refused the request: HTTP {response.status_code} {detail}")
                payloads = _SSEPayloads()
                async for text in response.aiter_text():
                    if chunk := reader.read(payloads.feed(text)):
                        yield chunk
                    if payloads.done:
                        break
        except httpx.HTTPError as exc:
            if isinstance(exc, _CONNECTION_LOST):
                self._take_out(url, f"{type(exc).__name__}: {exc or 'connection failed'}")
            if reader.deltas or not isinstance(exc, _CONNECTION_LOST):
                raise EngineError(
                    f"stream from {url} failed after {reader.deltas} chunks: {type(exc).__name__}: {exc}"
                ) from exc
            raise _ServerError(
                f"{type(exc).__name__}: {exc or 'connection failed'}", connection_lost=True
            ) from exc
        for chunk in reader.close(url):
            yield chunk


class _EventReader:
    """Folds one stream's events into Chunks: one per piece of body httpx hands over (an HTTP chunk,
    which may hold several events), then the closing ones with the finish reason."""

    def __init__(self, request: GenerationRequest, harmony: HarmonyReader | None) -> None:
        self.request = request
        self.harmony = harmony
        self.think = _ThinkMarkers(already_open=ends_inside_thinking(request.assistant_prefix))
        self.finish: str | None = None
        self.stop_string = False  # the server says a stop string (not the end of the text) ended it
        self.usage: dict[str, Any] = {}
        self.calls: dict[int, dict[str, str]] = {}  # tool calls arrive in pieces, keyed by their index
        self.deltas = 0  # events that carried text or logprobs
        self.counted = 0  # tokens counted so far

    def read(self, payloads: list[str]) -> Chunk | None:
        """The Chunk of one read's events (None when they carry no text)."""
        texts: list[str] = []
        tokens = 0
        top: list[list[float]] = []
        for data in payloads:
            event = _event(data)  # parsed one at a time: a read's events are not all kept alive
            if event.get("usage"):
                self.usage = event["usage"]
            for choice in event.get("choices") or ():
                delta = choice.get("delta") or _NOTHING
                reasoning, content, logprobs = _choice_delta(choice, delta)
                finish = choice.get("finish_reason")
                if finish or "stop_reason" in choice:
                    self._finished(choice, finish)
                if "tool_calls" in delta:
                    _gather_tool_calls(delta, self.calls)
                if reasoning or content or logprobs:
                    self.deltas += 1
                    n = _chunk_tokens(self.usage, self.counted, logprobs)
                    self.counted += n
                    tokens += n
                    if logprobs:
                        top += logprobs
                    if self.harmony:  # the harmony reader puts the think markers in itself
                        texts.append(self.harmony.feed(content))
                    elif reasoning or self.think.open:
                        texts.append(self.think.wrap(reasoning, content))
                    else:
                        texts.append(content)
        if not tokens:
            return None
        return Chunk(text=texts[0] if len(texts) == 1 else "".join(texts), tokens=tokens, logprobs=top)

    def _finished(self, choice: dict[str, Any], finish: str | None) -> None:
        self.finish = finish or self.finish
        if "stop_reason" in choice:  # vLLM: the matched stop string, or None/EOS token id
            self.stop_string = isinstance(choice["stop_reason"], str)
        else:
            self.stop_string = bool(self.request.stop)  # unknown: assume a stop string may have hit

    def close(self, url: str) -> list[Chunk]:
        """The chunks that end the stream; a stream without a finish reason is an error."""
        if self.finish is None:
            raise EngineError(
                f"stream from {url} ended without a finish reason after {self.deltas} chunks "
                "(a llama.cpp server started without --interrupt_requests False does this)"
            )
        chunks = []
        if self.harmony is not None and (tail := self.harmony.finish()):
            chunks.append(
                Chunk(text=tail)
            )  # a tool call whose `<|call|>` the server kept back as a stop token
        if self.think.open and self.finish in ("stop", "tool_calls") and not self.stop_string:
            chunks.append(Chunk(text=self.think.close()))  # the model ended its turn inside the thinking
        chunks.append(
            Chunk(
                finish_reason=_FINISH_REASONS.get(self.finish, "stop"),
                prompt_tokens=self.usage.get("prompt_tokens"),
                completion_tokens=self.usage.get("completion_tokens", self.counted),
                tool_calls=[
                    ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(self.calls.items())
                ],
            )
        )
        return chunks


class _ThinkMarkers:
    """Puts streamed reasoning back into the text: `<think>` at its first delta, `</think>` at the
    first content delta after it (or at the end of the turn). A continuation whose assistant prefix
    is still thinking opens nothing again."""

    def __init__(self, already_open: bool = False) -> None:
        self.open = already_open

    def wrap(self, reasoning: str, content: str) -> str:
        text = ""
        if reasoning:
            if not self.open:
                self.open = True
                text = THINK_START + ("" if reasoning.startswith("\n") else "\n")
            text += reasoning
        if content and self.open:
            text += self.close()
        return text + content

    def close(self) -> str:
        self.open = False
        return THINK_END


def _template(
    spec: str | ChatTemplate | HarmonyFormat | None, reasoning_effort: ReasoningEffort | None
) -> ChatTemplate | HarmonyFormat | None:
    """The chat template a `--chat-template` value names ('harmony': gpt-oss's harmony format)."""
    if spec == HARMONY:
        return HarmonyFormat(reasoning_effort or "high")
    return load_chat_template(spec) if isinstance(spec, str) else spec


def _chunk_tokens(usage: dict[str, Any], counted: int, logprobs: list[list[float]]) -> int:
    """Tokens a chunk stands for: from a running usage count (vLLM's continuous usage stats) when the
    server sends one, else one per log-probability entry, else one."""
    used = usage.get("completion_tokens", 0) if usage else 0
    if used > counted:
        return int(used) - counted
    return len(logprobs) or 1


def _gather_tool_calls(delta: Mapping[str, Any], calls: dict[int, dict[str, str]]) -> None:
    """Add the pieces of tool calls in a streamed chat delta to `calls`."""
    for piece in delta.get("tool_calls") or ():
        call = calls.setdefault(piece.get("index", len(calls)), {"id": "", "name": "", "arguments": ""})
        call["id"] = piece.get("id") or call["id"]
        function = piece.get("function") or {}
        call["name"] = function.get("name") or call["name"]
        call["arguments"] += function.get("arguments") or ""


def _choice_delta(choice: dict[str, Any], delta: Mapping[str, Any]) -> tuple[str, str, list[list[float]]]:
    """Reasoning, text and top log-probabilities of one streamed choice (chat or completions shape)."""
    text = choice.get("text")
    if text is None:
        text = delta.get("content") or ""
    reasoning = (
        delta.get("reasoning_content") or delta.get("reasoning") or choice.get("reasoning_content") or ""
    )
    lp = choice.get("logprobs")
    if not lp:
        return reasoning, text, []
    logprobs: list[list[float]] = []
    for entry in lp.get("content") or ():  # chat shape
        logprobs.append(sorted((t["logprob"] for t in entry.get("top_logprobs") or ()), reverse=True))
    for top in lp.get("top_logprobs") or ():  # completions shape
        logprobs.append(sorted((top or {}).values(), reverse=True))
    return reasoning, text, logprobs


_NOTHING: Mapping[str, Any] = {}


class _SSEPayloads:
    """Splits a server-sent-events body, piece by piece as httpx hands it over (one HTTP chunk: an
    event, or several from a server that fell behind), into its `data:` payloads, until `[DONE]`.

    The rest of the body is not read, so httpx closes the connection rather than pooling it: a connect
    per request, which `aimo bench client` measured cheaper than reusing a pool of 256 connections
    (reading to the end cost 24% of the client's chunks per CPU second at 256 streams)."""

    def __init__(self) -> None:
        self.pending = ""  # a line the next piece completes
        self.done = False

    def feed(self, text: str) -> list[str]:
        # SSE lines may end in \r\n or \r too; a \r\n split across pieces only adds an empty line.
        lines = (self.pending + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.pending = lines.pop()
        payloads: list[str] = []
        for line in lines:
            if line.startswith("data:"):
                data = line[5:].strip()
                if data == "[DONE]":
                    self.done = True
                    break
                payloads.append(data)
        return payloads


def _event(data: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise EngineError(f"malformed event from the server: {data[:200]}") from exc
    if "error" in event:
        raise EngineError(f"server error: {str(event['error'])[:300]}")
    return event
