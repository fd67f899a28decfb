"""Reward-model scores of finished samples from a model served by vLLM's pooling endpoint.

`vllm serve MODEL --runner pooling` (a reward model such as Qwen2.5-Math-RM-72B, or any
`*ForSequenceClassification` checkpoint) answers `POST /pooling` with, per input, either one score or
one score (vector) per token; the sample's reward is the last token's first value, as reward models
score the end of the response. The chat sent is the problem as the user turn and the sample's text
as the assistant turn. Scores land in `Sample.reward`, where `VoteConfig.reward` reads them.
"""

from __future__ import annotations

from typing import Any

import httpx

from aimo.errors import AimoError
from aimo.solve.types import Sample

SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


class RewardModelError(AimoError):
    """The reward-model server cannot be reached or answered something unreadable."""


class RewardModelClient:
    """Scores samples against a vLLM pooling server at `url` (its base, with or without `/v1`)."""

    def __init__(self, url: str, model: str | None = None, timeout_s: float = 60.0) -> None:
        base = url.rstrip("/")
        self.base = base[: -len("/v1")] if base.endswith("/v1") else base
        self.model = model
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def score(self, problem_text: str, sample: Sample) -> float:
        """The reward of one sample's response to the problem (also stored in its `reward`)."""
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": problem_text},
            {"role": "assistant", "content": sample.text},
        ]
        body = {"model": await self._model(), "messages": messages}
        data = await self._post("/pooling", body)
        try:
            reward = _last_value(data["data"][0]["data"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise RewardModelError(
                f"reward model at {self.base}: unreadable /pooling answer {str(data)[:200]}"
            ) from None
        sample.reward = reward
        return reward

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _model(self) -> str:
        if self.model is None:
            models = await self._get("/v1/models")
            try:
                self.model = str(models["data"][0]["id"])
            except (KeyError, IndexError, TypeError):
                raise RewardModelError(f"reward model at {self.base}: /v1/models lists no model") from None
        return self.model

    async def _get(self, path: str) -> Any:
        return await self._request("GET", path, None)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._request("POST", path, body)

    async def _request(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        try:
            response = await self._client.request(method, self.base + path, json=body)
        except httpx.HTTPError as exc:
            raise RewardModelError(f"reward model at {self.base} unreachable: {exc}") from None
        if response.status_code != 200:
            raise RewardModelError(
                f"reward model at {self.base}{path}: HTTP {response.status_code} {response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError:
            raise RewardModelError(f"reward model at {self.base}{path}: the answer is not JSON") from None


def _last_value(data: Any) -> float:
    """The score in a pooling output: a number, or the last element's first value of nested lists."""
    while isinstance(data, list):
        data = data[-1] if data and isinstance(data[-1], list) else (data[0] if data else None)
    if data is None:
        raise ValueError("empty pooling output")
    return float(data)


class RewardScorer:
    """Scores one problem's samples as they finish; a failing server leaves samples unscored (their
    vote weight stays neutral) and keeps the first error for the problem's record."""

    def __init__(self, url: str, problem_text: str) -> None:
        self.client = RewardModelClient(url)
        self.problem_text = problem_text
        self.error: str | None = None

    async def score(self, sample: Sample) -> None:
        if self.error is not None:
            return  # one failure is enough: do not wait on a dead server for every sample
        try:
            await self.client.score(self.problem_text, sample)
        except RewardModelError as exc:
            self.error = str(exc)

    async def aclose(self) -> None:
        await self.client.aclose()
