"""Reward-model votes against a real vLLM pooling server running a tiny reward-model-shaped checkpoint
(random weights: the scores mean nothing, but the request, the endpoint and the answer's shape are real).
Needs the vLLM environment (`bash .ci/vllm-env.sh`); starting vLLM takes minutes on a small CPU."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from test_vllm import SETUP_HINT, _build_tiny_hf, _serve, vllm_python

from aimo.solve.reward import RewardModelClient
from aimo.solve.types import Sample


@pytest.fixture(scope="module")
def reward_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vllm serve` of the tiny reward model with `--runner pooling`; yields its base URL (…/v1)."""
    python = vllm_python()
    if python is None:
        pytest.skip(f"no vLLM environment: {SETUP_HINT}")
    model = _build_tiny_hf(python, "--reward")
    yield from _serve(python, model, tmp_path_factory, "--runner", "pooling")


@pytest.mark.slow
def test_vllm_pooling_server_scores_samples_for_the_vote(reward_server: str) -> None:
    async def go() -> list[float]:
        client = RewardModelClient(reward_server)
        try:
            texts = ["Six times seven is \\boxed{42}.", "It is \\boxed{41}, since 6 + 7 = 13... no."]
            return [
                await client.score("What is 6 times 7?", Sample("p", i, "cot", text=t))
                for i, t in enumerate(texts)
            ]
        finally:
            await client.aclose()

    scores = asyncio.run(go())
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    assert scores[0] != scores[1]  # the score depends on the response (random weights, real model)
