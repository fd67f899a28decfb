"""Reward-model votes against a real vLLM pooling server running a tiny reward-model-shaped checkpoint
(random weights: the scores mean nothing, but the request, the endpoint and the answer's shape are real).
Needs the vLLM environment (`bash .ci/vllm-env.sh`); starting vLLM takes minutes on a small CPU."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port, wait_until_serving
from test_vllm import REPO, SETUP_HINT, _tail, _vllm_env, vllm_python
from tinymodel import qwen2_vocab

from aimo.solve.reward import RewardModelClient
from aimo.solve.types import Sample


@pytest.fixture(scope="module")
def reward_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vllm serve` of the tiny reward model with `--runner pooling`; yields its base URL (…/v1)."""
    python = vllm_python()
    if python is None:
        pytest.skip(f"no vLLM environment: {SETUP_HINT}")
    try:
        vocab = qwen2_vocab()
    except Exception as exc:
        pytest.skip(f"could not get the Qwen2 vocab GGUF from llama-cpp-python's sdist ({exc})")
    env = dict(_vllm_env(), AIMO_TEST_VOCAB=str(vocab))
    built = subprocess.run(
        [str(python), str(REPO / "tests" / "tinyhf.py"), "--reward"], env=env, capture_output=True, text=True
    )
    if built.returncode != 0:
        pytest.fail(f"tests/tinyhf.py --reward failed:\n{_tail(built.stderr)}")
    model = Path(built.stdout.strip().splitlines()[-1])
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-rm") / "server.log"
    cmd = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--runner",
        "pooling",
    ]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--max-model-len", "2048", "--enforce-eager"]
    cmd += ["--kv-cache-memory-bytes", str(256 * 2**20)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            cmd, env=_vllm_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        health = f"http://127.0.0.1:{port}/health"
        wait_until_serving(proc, health, 900, lambda: _tail(log.read_text()), "the vLLM reward-model server")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


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
