"""Configuration of sampling, solving strategy and time budget."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SamplingConfig(BaseModel):
    """Sampling parameters given to the engine for every sample."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(2048, ge=1)
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    min_p: float = Field(0.0, ge=0.0, le=1.0)
    seed: int | None = None


class StrategyConfig(BaseModel):
    """How one problem is solved: how many samples of which kind, and when to stop."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["cot", "tir", "mix"] = "cot"
    samples: int = Field(8, ge=1)
    code_rounds: int = Field(4, ge=0)
    # For `mix`: how many of the samples use the code (tool-integrated) prompt; the rest chain-of-thought.
    mix_code_samples: int | None = None
    answer_mode: Literal["integer", "math", "auto"] = "auto"


class BudgetConfig(BaseModel):
    """A total time budget for a run (None: no limit), and the reserve kept back for safety."""

    model_config = ConfigDict(extra="forbid")

    total_s: float | None = Field(None, gt=0)
    per_problem_max_s: float | None = Field(None, gt=0)
    reserve_s: float = Field(5.0, ge=0)
