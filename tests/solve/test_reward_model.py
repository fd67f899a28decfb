"""Reward-model votes against a real HTTP server on 127.0.0.1 that answers like vLLM's /pooling
(per-token scores of a reward model); a real vLLM reward model is not part of this test."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aimo.engines.replay import ReplayEngine
from aimo.engines.traces import TraceProblem, TraceSample
from aimo.problems import Problem
from aimo.solve import BudgetConfig, RunSettings, SamplingConfig, StrategyConfig, solve_problems
from aimo.solve.reward import RewardModelClient, RewardModelError
from aimo.solve.types import Sample
from aimo.solve.voting import VoteConfig


class PoolingServer:
    """Scores an assistant turn 4.0 when it contains "42", else -4.0, as per-token [[s], ..., [s]]."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send({"data": [{"id": "tiny-rm"}]})

            def do_POST(self) -> None:
                if self.path != "/pooling":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, **request})
                answer = request["messages"][-1]["content"]
                score = 4.0 if "42" in answer else -4.0
                self._send({"data": [{"index": 0, "object": "pooling", "data": [[0.0], [score]]}]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pooling_server():  # type: ignore[no-untyped-def]
    server = PoolingServer()
    yield server
    server.close()


TRACES = [
    TraceProblem(
        "p",
        "What is 6 times 7?",
        "42",
        tuple(TraceSample(answer=a, completion_tokens=50) for a in ("41", "41", "42")),
    )
]


def _solve(vote: VoteConfig):  # type: ignore[no-untyped-def]
    strategy = StrategyConfig(samples=3, greedy_first=False, vote=vote)
    settings = RunSettings(strategy, SamplingConfig(max_tokens=100), BudgetConfig())
    [result] = asyncio.run(
        solve_problems(ReplayEngine(TRACES), [Problem("p", "What is 6 times 7?", "42")], settings)
    )
    return result


def test_client_scores_the_last_token_and_sends_the_chat(pooling_server):
    async def go() -> float:
        client = RewardModelClient(pooling_server.url)
        try:
            return await client.score("What is 6 times 7?", Sample("p", 0, "cot", text="It is \\boxed{42}"))
        finally:
            await client.aclose()

    assert asyncio.run(go()) == 4.0
    [request] = pooling_server.requests
    assert request["path"] == "/pooling" and request["model"] == "tiny-rm"
    assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant"]


def test_reward_model_vote_overrules_a_wrong_majority(pooling_server):
    assert _solve(VoteConfig()).answer == "41"
    result = _solve(VoteConfig(reward_model=pooling_server.url))
    assert result.answer == "42" and result.correct
    assert sorted(s.reward or 0.0 for s in result.samples) == [-4.0, -4.0, 4.0]


def test_an_unreachable_reward_model_leaves_the_plain_vote_and_says_why():
    result = _solve(VoteConfig(reward_model="http://127.0.0.1:9/v1"))
    assert result.answer == "41" and "unreachable" in str(result.reward_error)


def test_a_server_without_the_pooling_endpoint_is_a_clear_error(pooling_server):
    async def go() -> None:
        client = RewardModelClient(pooling_server.url.replace("/v1", "/nowhere"))
        try:
            await client.score("q", Sample("p", 0, "cot", text="t"))
        finally:
            await client.aclose()

    with pytest.raises(RewardModelError, match="HTTP 404"):
        asyncio.run(go())
