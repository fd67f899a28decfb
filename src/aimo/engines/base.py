"""The engine protocol: async streaming generation with stop strings, token counts and cancellation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from aimo.errors import AimoError

Message = dict[str, Any]  # role, content; and tool_calls / tool_call_id in tool-calling chats
FinishReason = Literal["stop", "length", "abort", "tool_calls"]


class EngineError(AimoError):
    """An engine failed to produce a stream (unreachable server, broken stream, bad model)."""


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: a chat (`messages`, optionally continuing `assistant_prefix`) or a raw `prompt`.

    `assistant_prefix` is text the assistant already wrote (e.g. a code block and its output in
    tool-integrated reasoning); the engine continues it rather than starting a new turn.
    """

    messages: Sequence[Message] | None = None
    prompt: str | None = None
    assistant_prefix: str = ""
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 1.0
    min_p: float = 0.0
    seed: int | None = None
    stop: Sequence[str] = ()
    logprobs: bool = False
    # OpenAI-style tool definitions; a model that calls one ends its turn with finish_reason "tool_calls".
    tools: Sequence[Mapping[str, Any]] = ()
    # Free-form tags for the harness (problem_id, sample_index); engines ignore them, replay uses them.
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("GenerationRequest needs exactly one of `messages` or `prompt`")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model made: `arguments` is the JSON text it wrote."""

    id: str
    name: str
    arguments: str


@dataclass
class Chunk:
    """A piece of a stream. The last chunk of a stream has `finish_reason` and the token counts set.

    `logprobs` holds, where the engine gives them, one entry per generated token: the entropy-ready
    list of top log-probabilities of that position (first one is the chosen token).
    """

    text: str = ""
    tokens: int = 0  # tokens this chunk stands for (lets a consumer that stops early count them)
    finish_reason: FinishReason | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: list[list[float]] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)  # on the last chunk, when the model called tools


@runtime_checkable
class Engine(Protocol):
    """What every engine provides. Cancelling the consumer of `stream()` (or closing the async
    iterator) must stop the generation on the engine side."""

    name: str

    def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Generate text for `request`, yielding text deltas; the last chunk carries the finish reason."""
        ...

    async def aclose(self) -> None:
        """Release the engine's resources (model, connections, worker threads)."""
        ...


@dataclass
class Completion:
    """A whole generation gathered from a stream."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


async def complete(engine: Engine, request: GenerationRequest) -> Completion:
    """Run a request to the end and gather its text (convenience for non-streaming callers)."""
    parts: list[str] = []
    last = Chunk()
    async for chunk in engine.stream(request):
        parts.append(chunk.text)
        last = chunk
    if last.finish_reason is None:
        raise EngineError(f"{engine.name}: stream ended without a finish reason")
    return Completion(
        text="".join(parts),
        finish_reason=last.finish_reason,
        prompt_tokens=last.prompt_tokens or 0,
        completion_tokens=last.completion_tokens or 0,
    )
