"""One run's whole configuration: engine, sampling, strategy, budget and sandbox; loadable from TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aimo.engines.config import EngineConfig
from aimo.errors import AimoError
from aimo.sandbox.config import SandboxConfig
from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig


class ConfigError(AimoError):
    """A configuration file or option that cannot be used."""


class RunConfig(BaseModel):
    """Everything a run needs; each section is a `[table]` of the TOML file (`--config run.toml`)."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineConfig = Field(default_factory=EngineConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)

    @classmethod
    def load(cls, path: str | Path | None) -> RunConfig:
        """Read a TOML file (None: the defaults)."""
        if path is None:
            return cls()
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {_first_error(exc)}") from None

    def engine_for_run(self, concurrency: int | None = None) -> EngineConfig:
        """The engine configuration sized for this run's samples (or `concurrency` requests in flight,
        when more) and token cap."""
        return self.engine.fitted(max(self.strategy.samples, concurrency or 0), self.sampling.max_tokens)

    def override(self, **sections: dict[str, Any]) -> RunConfig:
        """A copy with command-line values applied (None values mean "not given" and are skipped)."""
        data = self.model_dump()
        for section, values in sections.items():
            data[section].update({k: v for k, v in values.items() if v is not None})
        return self.from_dict(data, source="options")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" + (
        f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    )
