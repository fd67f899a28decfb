"""Engines: one file per engine behind the `Engine` protocol of `aimo.engines.base`."""

from aimo.engines.base import Chunk, Completion, Engine, EngineError, GenerationRequest, complete

__all__ = ["Chunk", "Completion", "Engine", "EngineError", "GenerationRequest", "complete"]
