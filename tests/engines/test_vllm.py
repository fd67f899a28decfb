"""The vllm engine, and the openai engine against vLLM's server, on a tiny random-weight HF model.

vLLM pins its own torch, so it lives in its own environment (`bash .ci/vllm-env.sh`; found through
$AIMO_VLLM_PYTHON or ../vllm-env next to the repository). The engine tests run this file there as a
script: it drives `VLLMEngine` through every case once (one engine start-up, the slow part) and writes
what it saw to a JSON file; the tests here assert on that record. The server tests start vLLM's
OpenAI-compatible server from the same environment and talk to it with `OpenAIEngine` from this one.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, wait_until_serving
from tinymodel import qwen2_vocab

from aimo.engines.base import EngineError, GenerationRequest, complete
from aimo.engines.openai import OpenAIEngine
from aimo.engines.vllm import VLLMEngine

REPO = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "What is 6 times 7?"}]
PREFIX = "Six times seven is"
LONG = 8000  # tokens asked of the streams that get cancelled: a minute of decoding here
MAX_MODEL_LEN = 8192
ENGINE_ARGS: dict[str, Any] = {
    "max_model_len": MAX_MODEL_LEN,
    "kv_cache_memory_bytes": 256 * 2**20,  # on a CPU, else vLLM reserves most of the RAM
    "enforce_eager": True,  # no torch.compile: minutes of start-up on a small CPU
}
SETUP_HINT = "create it with `bash .ci/vllm-env.sh`, or point AIMO_VLLM_PYTHON at its python"

slow = pytest.mark.slow  # every test here but the first starts vLLM (about a minute on a CPU)


def request(**kw: Any) -> GenerationRequest:
    return GenerationRequest(**{"messages": MESSAGES, "max_tokens": 24, "temperature": 1.0, "seed": 1, **kw})


# --- the vLLM environment and the model ---------------------------------------------------------


def vllm_python() -> Path | None:
    """The vLLM environment's interpreter: $AIMO_VLLM_PYTHON, else ../vllm-env next to the repo."""
    env = os.environ.get("AIMO_VLLM_PYTHON")
    path = Path(env) if env else REPO.parent / "vllm-env" / "bin" / "python"
    return path if path.is_file() else None


def _vllm_env() -> dict[str, str]:
    """The environment of a process run with the vLLM interpreter: aimo and the test helpers importable."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "tests")]))


def _tail(text: str, n: int = 4000) -> str:
    return text[-n:]


@pytest.fixture(scope="module")
def vllm_env() -> Path:
    python = vllm_python()
    if python is None:
        where = os.environ.get("AIMO_VLLM_PYTHON") or REPO.parent / "vllm-env"
        pytest.skip(f"no vLLM environment at {where}: {SETUP_HINT}")
    return python


@pytest.fixture(scope="module")
def tiny_hf(vllm_env: Path) -> Path:
    """The tiny HF model directory, built by tests/tinyhf.py in the vLLM environment."""
    return _build_tiny_hf(vllm_env)


def _build_tiny_hf(vllm_env: Path, *args: str) -> Path:
    try:
        vocab = qwen2_vocab()
    except Exception as exc:
        pytest.skip(f"could not get the Qwen2 vocab GGUF from llama-cpp-python's sdist ({exc})")
    env = dict(_vllm_env(), AIMO_TEST_VOCAB=str(vocab))
    done = subprocess.run(
        [str(vllm_env), str(REPO / "tests" / "tinyhf.py"), *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"tests/tinyhf.py failed in {vllm_env}:\n{_tail(done.stderr)}")
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def seen(vllm_env: Path, tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What `VLLMEngine` did in every case, recorded by running this file in the vLLM environment."""
    out = tmp_path_factory.mktemp("vllm") / "seen.json"
    cmd = [str(vllm_env), __file__, str(tiny_hf), str(out)]
    done = subprocess.run(
        cmd, env=_vllm_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900
    )
    if done.returncode != 0 or not out.is_file():  # vLLM logs to stdout, Python's traceback to stderr
        pytest.fail(f"the vllm engine driver failed (exit {done.returncode}):\n{_tail(done.stdout)}")
    return json.loads(out.read_text())


# --- the driver, run in the vLLM environment ----------------------------------------------------


async def _run(engine: VLLMEngine, request: GenerationRequest) -> dict[str, Any]:
    """Stream one request to its end; what came out and when."""
    start = time.monotonic()
    text, tokens, chunks, logprobs, first = [], 0, 0, [], None
    last = None
    async for chunk in engine.stream(request):
        first = first if first is not None else time.monotonic() - start
        text.append(chunk.text)
        tokens += chunk.tokens
        chunks += 1
        logprobs += chunk.logprobs
        last = chunk
    assert last is not None
    return {
        "text": "".join(text),
        "tokens": tokens,
        "chunks": chunks,
        "logprobs": logprobs,
        "finish": last.finish_reason,
        "prompt_tokens": last.prompt_tokens,
        "completion_tokens": last.completion_tokens,
        "first_s": first,
        "end_s": time.monotonic() - start,
    }


async def _after_cancel(engine: VLLMEngine) -> dict[str, Any]:
    """Right after a stream was given up: does vLLM still track it, and how long until the engine
    core is idle (it drains at once when the request was aborted; otherwise `LONG` tokens remain)."""
    unfinished = engine.unfinished_requests
    start = time.monotonic()
    try:
        await asyncio.wait_for(engine.async_llm.pause_generation(mode="wait", clear_cache=False), 30)
        drain_s: float | None = time.monotonic() - start
    except TimeoutError:
        drain_s = None
    await engine.async_llm.resume_generation()
    return {"unfinished": unfinished, "drain_s": drain_s}


def _stream_in_a_new_loop(engine: VLLMEngine) -> str:
    async def go() -> None:
        async for _ in engine.stream(request(max_tokens=1)):
            pass

    try:
        asyncio.run(go())
    except EngineError as exc:
        return str(exc)
    return "no error"


async def _observe(model: str) -> dict[str, Any]:
    start = time.monotonic()
    engine = await asyncio.to_thread(VLLMEngine, model, **ENGINE_ARGS)  # as open_engine builds it
    seen: dict[str, Any] = {"load_s": time.monotonic() - start}
    try:
        plain, prefixed = request(), request(assistant_prefix=PREFIX)
        seen["rendered"] = engine.render_prompt(plain)
        seen["rendered_prefixed"] = engine.render_prompt(prefixed)
        seen["length"] = await _run(engine, plain)
        seen["again"] = await _run(engine, plain)
        seen["prefixed"] = await _run(engine, prefixed)
        seen["raw"] = await _run(engine, GenerationRequest(prompt="6*7=", max_tokens=4, temperature=0.0))
        seen["raw_prompt_ids"] = engine.prompt_token_ids(GenerationRequest(prompt="6*7="))
        text = seen["length"]["text"]
        stop = next(text[i : i + 3] for i in range(len(text) // 3, len(text)) if text[i : i + 3].strip())
        seen["stop_string"] = stop
        seen["stopped"] = await _run(engine, request(stop=[stop]))
        seen["logprobs"] = await _run(engine, request(max_tokens=6, temperature=0.0, logprobs=True))

        started = time.monotonic()
        seen["concurrent"] = await asyncio.gather(*(_run(engine, request(seed=i)) for i in range(4)))
        seen["concurrent_s"] = time.monotonic() - started
        seen["alone"] = [await _run(engine, request(seed=i)) for i in range(4)]

        async with aclosing(engine.stream(request(max_tokens=LONG))) as stream:  # the consumer closes it
            n = 0
            async for _ in stream:
                n += 1
                if n == 3:
                    break
        seen["closed"] = await _after_cancel(engine)

        three = asyncio.Event()

        async def consume() -> None:
            n = 0
            async for _ in engine.stream(request(max_tokens=LONG)):
                n += 1
                if n == 3:
                    three.set()

        task = asyncio.create_task(consume())  # the consumer's task is cancelled while it waits
        await three.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        seen["cancelled"] = await _after_cancel(engine)
        seen["after_cancel"] = await _run(engine, request(max_tokens=4))
        seen["other_loop"] = await asyncio.to_thread(_stream_in_a_new_loop, engine)
    finally:
        await engine.aclose()
    return seen


# --- the engine, seen through the record --------------------------------------------------------


def test_missing_vllm_is_a_clear_error() -> None:
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vLLM is installed in this environment")
    with pytest.raises(EngineError, match=re.escape("pip install 'aimo[vllm]'")):
        VLLMEngine("any/model")


@slow
def test_chat_template_and_assistant_prefix(seen: dict[str, Any]) -> None:
    assert seen["rendered"].startswith("<|im_start|>system\n")  # the model's own template
    assert seen["rendered"].endswith(
        "<|im_start|>user\nWhat is 6 times 7?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert seen["rendered_prefixed"] == seen["rendered"] + PREFIX
    assert seen["prefixed"]["prompt_tokens"] == seen["length"]["prompt_tokens"] + 4  # " Six times seven is"
    assert seen["raw_prompt_ids"] == [21, 9, 22, 28]  # a raw prompt as it is: no template, no BOS


@slow
def test_stream_reports_tokens_and_finish_reason(seen: dict[str, Any]) -> None:
    length = seen["length"]
    assert length["finish"] == "length"
    assert length["completion_tokens"] == length["tokens"] == 24  # chunk.tokens add up to the count
    assert length["prompt_tokens"] == 26
    assert length["text"] and length["chunks"] > 1  # streamed, not delivered at the end
    assert seen["again"]["text"] == length["text"]  # same seed, same text
    assert seen["raw"]["prompt_tokens"] == 4 and seen["raw"]["completion_tokens"] == 4


@slow
def test_stop_string_ends_generation_and_is_not_emitted(seen: dict[str, Any]) -> None:
    stop, text, stopped = seen["stop_string"], seen["length"]["text"], seen["stopped"]
    assert stopped["finish"] == "stop"
    assert stopped["text"] == text[: text.index(stop)]
    assert stopped["completion_tokens"] < 24
    assert stopped["tokens"] == stopped["completion_tokens"]


@slow
def test_logprobs_are_the_top_five_per_token(seen: dict[str, Any]) -> None:
    lp = seen["logprobs"]
    assert len(lp["logprobs"]) == lp["completion_tokens"] == 6
    for top in lp["logprobs"]:
        assert len(top) == 5 and top == sorted(top, reverse=True) and all(x <= 0 for x in top)


@slow
def test_concurrent_streams_are_decoded_together(seen: dict[str, Any]) -> None:
    together, alone = seen["concurrent"], seen["alone"]
    assert [r["finish"] for r in together] == ["length"] * 4
    assert [r["completion_tokens"] for r in together] == [24] * 4
    assert len({r["text"] for r in together}) == 4  # four seeds, four samples
    # Batched: every stream had its first token before any of them ended.
    assert max(r["first_s"] for r in together) < min(r["end_s"] for r in together)
    assert [r["text"] for r in together] == [r["text"] for r in alone]  # batching changes no sample


@pytest.mark.parametrize("how", ["closed", "cancelled"])
@slow
def test_giving_up_a_stream_aborts_its_request(seen: dict[str, Any], how: str) -> None:
    after = seen[how]
    assert after["unfinished"] == 0  # vLLM forgot the request the moment the stream was given up
    assert after["drain_s"] is not None  # and the engine core went idle, not after LONG more tokens
    assert seen["after_cancel"]["finish"] == "length"


@slow
def test_a_second_event_loop_is_refused_clearly(seen: dict[str, Any]) -> None:
    assert "one event loop" in seen["other_loop"]


# --- the openai engine against vLLM's OpenAI-compatible server -----------------------------------


@pytest.fixture(scope="module")
def vllm_server(vllm_env: Path, tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vllm.entrypoints.openai.api_server` on the tiny model; yields its base URL (…/v1)."""
    yield from _serve(vllm_env, tiny_hf, tmp_path_factory)


def _serve(
    vllm_env: Path, model: Path, tmp_path_factory: pytest.TempPathFactory, *args: str
) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    cmd = [str(vllm_env), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--max-model-len", str(MAX_MODEL_LEN)]
    cmd += ["--kv-cache-memory-bytes", str(ENGINE_ARGS["kv_cache_memory_bytes"]), "--enforce-eager", *args]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            cmd, env=_vllm_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        health = f"http://127.0.0.1:{port}/health"
        wait_until_serving(proc, health, 600, lambda: _tail(log.read_text()), "the vLLM server")
        _SERVER_LOGS[f"http://127.0.0.1:{port}/v1"] = log
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its engine-core process
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


_SERVER_LOGS: dict[str, Path] = {}
_STATS_LINE = re.compile(r"Running: (\d+) reqs")


def _running_after(base_url: str, offset: int, timeout: float = 40.0) -> int | None:
    """Requests running in the first stats line the server logged after byte `offset` of its log
    (the server logs one every 10 s while it has work or just had some)."""
    log = _SERVER_LOGS[base_url]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log.open("rb") as f:
            f.seek(offset)
            found = _STATS_LINE.search(f.read().decode(errors="replace"))
        if found:
            return int(found.group(1))
        time.sleep(0.5)
    return None


@slow
def test_openai_engine_streams_from_a_vllm_server(vllm_server: str, seen: dict[str, Any]) -> None:
    async def go() -> tuple[Any, Any]:
        engine = OpenAIEngine([vllm_server])
        try:
            return await complete(engine, request()), await complete(engine, request(assistant_prefix=PREFIX))
        finally:
            await engine.aclose()

    plain, prefixed = asyncio.run(go())
    assert plain.finish_reason == "length" and plain.completion_tokens == 24
    # The server renders the chat itself: the same prompt as the in-process engine's.
    assert plain.prompt_tokens == seen["length"]["prompt_tokens"]
    assert prefixed.prompt_tokens == seen["prefixed"]["prompt_tokens"]  # continue_final_message
    assert plain.text == seen["length"]["text"]  # same seed and sampling settings, same sample


@slow
def test_openai_stream_closed_midway_aborts_on_the_vllm_server(vllm_server: str) -> None:
    async def go() -> int | None:
        engine = OpenAIEngine([vllm_server])
        try:
            async with aclosing(engine.stream(request(max_tokens=LONG))) as stream:
                n = 0
                async for _ in stream:
                    n += 1
                    if n == 3:
                        break
            closed_at = _SERVER_LOGS[vllm_server].stat().st_size
            return await asyncio.to_thread(_running_after, vllm_server, closed_at)
        finally:
            await engine.aclose()

    # Not aborted, the request would still be decoding its LONG tokens (about a minute here).
    assert asyncio.run(go()) == 0


# --- a reasoning model (R1 template, <think> tokens) behind vLLM's deepseek_r1 reasoning parser ----

# The random model writes this because a regex forces it (vLLM's structured outputs, applied inside
# the reasoning too): a thinking that holds a code block and a box, as an R1 distill's does.
R1_THINKING = r"Let me compute\.\n```python\nprint\(6\*7\)\n```\nIt prints 42, so \\boxed\{42\}\."


@pytest.fixture(scope="module")
def r1_server(vllm_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = _build_tiny_hf(vllm_env, "r1")
    yield from _serve(
        vllm_env,
        model,
        tmp_path_factory,
        "--reasoning-parser",
        "deepseek_r1",
        "--structured-outputs-config",
        '{"enable_in_reasoning": true}',
    )


@slow
def test_tir_sample_on_a_vllm_reasoning_server_keeps_its_thinking_runs_its_code_and_answers(
    r1_server: str,
) -> None:
    from aimo.problems import Problem
    from aimo.sandbox import Sandbox, SandboxConfig
    from aimo.solve import ProblemSolver, SampleRunner
    from aimo.solve.config import SamplingConfig, StrategyConfig

    strategy = StrategyConfig(strategy="tir", samples=1, code_rounds=1, greedy_first=False)

    async def go() -> Any:
        engine = OpenAIEngine([r1_server], extra_body={"structured_outputs": {"regex": R1_THINKING}})
        try:
            async with Sandbox(SandboxConfig()) as sandbox:
                runner = SampleRunner(engine, strategy, SamplingConfig(max_tokens=120), sandbox.session)
                return await ProblemSolver(runner, strategy).solve(Problem("p", "What is 6*7?"), None)
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    sample = result.samples[0]
    # The parser sent all of it as reasoning: aimo kept it, inside one <think>, across both rounds.
    assert sample.text.startswith(
        "<think>\nLet me compute.\n```python\nprint(6*7)\n```\n```output\n42\n```\n"
    )
    assert sample.text.count("<think>") == 1
    assert [run.output for run in sample.code_runs] == ["42"]  # the code inside the thinking ran
    assert result.answer == "42" and sample.finish_reason == "boxed"  # the box inside the thinking


if __name__ == "__main__":  # the driver: python test_vllm.py MODEL_DIR OUT.json, in the vLLM environment
    Path(sys.argv[2]).write_text(json.dumps(asyncio.run(_observe(sys.argv[1]))))
