"""The engine protocol: async streaming generation with stop strings, token counts and cancellation."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from aimo.engines.sampling import SamplingConfig
from aimo.errors import AimoError

Message = dict[str, Any]  # role, content; and tool_calls / tool_call_id in tool-calling chats
FinishReason = Literal["stop", "length", "abort", "tool_calls"]
THINK_START, THINK_END = "<think>", "</think>"  # reasoning models' thinking, as aimo keeps it in text


def ends_inside_thinking(text: str) -> bool:
    """Whether `text` (a rendered prompt, or a prompt and what followed) ends inside an open `<think>`."""
    return text.rfind(THINK_START) > text.rfind(THINK_END)


_SAMPLING = SamplingConfig()  # where a request's sampling defaults come from


class EngineError(AimoError):
    """An engine failed to produce a stream (unreachable server, broken stream, bad model)."""


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: a chat (`messages`, optionally continuing `assistant_prefix`) or a raw `prompt`.

    `assistant_prefix` is text the assistant already wrote (e.g. a code block and its output in
    tool-integrated reasoning); the engine continues it rather than starting a new turn.
    Sampling defaults are `SamplingConfig`'s; `sampled()` builds a request from a run's sampling.
    """

    messages: Sequence[Message] | None = None
    prompt: str | None = None
    assistant_prefix: str = ""
    max_tokens: int = _SAMPLING.max_tokens
    temperature: float = _SAMPLING.temperature
    top_p: float = _SAMPLING.top_p
    min_p: float = _SAMPLING.min_p
    seed: int | None = _SAMPLING.seed
    stop: Sequence[str] = ()
    logprobs: bool = False
    # OpenAI-style tool definitions; a model that calls one ends its turn with finish_reason "tool_calls".
    tools: Sequence[Mapping[str, Any]] = ()
    # Free-form tags for the harness (problem_id, sample_index); engines ignore them, replay uses them.
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def sampled(cls, sampling: SamplingConfig, index: int = 0, **fields: Any) -> GenerationRequest:
        """A request with `sampling`'s parameters for sample `index`; `fields` add to or override them."""
        return cls(
            **{
                "max_tokens": sampling.max_tokens,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "min_p": sampling.min_p,
                "seed": sampling.seed_of(index),
                **fields,
            }
        )

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

    @property
    def name(self) -> str:
        """The engine's name in messages and records."""
        ...

    def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
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
