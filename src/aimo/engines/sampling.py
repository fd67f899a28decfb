"""`SamplingConfig`: the sampling parameters every request of a run starts from (the `[sampling]` table).

It is the one source of their defaults: `GenerationRequest` takes its defaults from it, and the
command line's help shows its descriptions and defaults.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SamplingConfig(BaseModel):
    """Sampling parameters given to the engine for every sample."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(2048, ge=1, description="Token cap per sample")
    temperature: float = Field(0.7, ge=0.0, description="Sampling temperature")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling: the probability mass kept")
    min_p: float = Field(0.0, ge=0.0, le=1.0, description="Drop tokens below this fraction of the top one")
    seed: int | None = Field(None, description="Base seed; sample i uses seed + i")

    def seed_of(self, index: int) -> int | None:
        """The seed of sample `index` (None: unseeded)."""
        return None if self.seed is None else self.seed + index
