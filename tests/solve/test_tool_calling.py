"""The tool-integrated loop over the OpenAI tool-calling API: a real HTTP server on 127.0.0.1 that
streams a `python` tool call, the openai engine, and the real sandbox."""

from __future__ import annotations

import asyncio
import json

from servers import ScriptedSSE, chat_delta

from aimo.engines.openai import OpenAIEngine
from aimo.problems import Problem
from aimo.sandbox import Sandbox, SandboxConfig
from aimo.solve.config import SamplingConfig, StrategyConfig
from aimo.solve.problem import ProblemSolver
from aimo.solve.sample import SampleRunner

CODE = "n = 2**10\nprint(n % 1000)"


def tool_call_stream() -> list[object]:
    arguments = json.dumps({"code": CODE})
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "python", "arguments": ""}}
    pieces = [arguments[i : i + 7] for i in range(0, len(arguments), 7)]
    events: list[object] = [chat_delta("Let me compute. ")]
    events.append({"choices": [{"index": 0, "delta": {"tool_calls": [first]}, "finish_reason": None}]})
    for piece in pieces:
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        events.append({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    events.append("[DONE]")
    return events


def test_python_tool_calls_run_in_the_sandbox_and_results_go_back_as_tool_messages():
    answer = [chat_delta("It printed 24, so \\boxed{24}.", finish="stop"), "[DONE]"]

    async def go(url: str):
        engine = OpenAIEngine([url])
        strategy = StrategyConfig(strategy="tir", samples=1, code_via="tools", code_rounds=1)
        try:
            async with Sandbox(SandboxConfig()) as sandbox:
                runner = SampleRunner(
                    engine, strategy, SamplingConfig(max_tokens=200), open_session=sandbox.session
                )
                return await ProblemSolver(runner, strategy).solve(
                    Problem("p", "What is 2^10 mod 1000?"), None
                )
        finally:
            await engine.aclose()

    with ScriptedSSE([tool_call_stream(), answer]) as server:
        result = asyncio.run(go(server.url))
    sample = result.samples[0]
    assert result.answer == "24"
    assert [run.code for run in sample.code_runs] == [CODE]
    assert sample.code_runs[0].output == "24"
    first, second = server.requests
    assert first["tools"][0]["function"]["name"] == "python"
    assert not second.get("tools")  # its one code round is used: the tool is no longer offered
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "call_1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"code": CODE}
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "24"}
    assert "```python\n" + CODE + "\n```\n```output\n24\n```" in sample.text
