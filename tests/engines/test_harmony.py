"""gpt-oss's harmony format: rendering with openai-harmony, reading hand-written harmony streams, and a
tool-integrated sample against a real HTTP server on 127.0.0.1 that streams them.

No gpt-oss model runs here: the streams are written by hand from the published harmony format
(analysis / final channels, a python tool call ending in `<|call|>`), as a vLLM server started for
gpt-oss streams them with `skip_special_tokens=False`. openai-harmony itself is the oracle for what the
prompts must be."""

from __future__ import annotations

import asyncio
import os

import pytest
from servers import ScriptedSSE

from aimo.engines.harmony import HarmonyFormat, HarmonyReader, harmony_encoding
from aimo.engines.openai import OpenAIEngine
from aimo.engines.template import TemplateError
from aimo.problems import Problem
from aimo.sandbox import Sandbox, SandboxConfig
from aimo.solve.config import SamplingConfig, StrategyConfig
from aimo.solve.problem import ProblemSolver
from aimo.solve.prompts import PROMPTS
from aimo.solve.sample import SampleRunner

h = pytest.importorskip("openai_harmony", reason="needs openai-harmony: pip install 'aimo[harmony]'")

ANALYSIS = "<|channel|>analysis<|message|>Let me compute 6*7 with python.<|end|>"
CALL = "<|start|>assistant to=python<|channel|>analysis code<|message|>print(6*7)"
AFTER_OUTPUT = "<|channel|>analysis<|message|>It printed 42.<|end|>"
FINAL = "<|start|>assistant<|channel|>final<|message|>The answer is \\boxed{42}."
AIMO_TEXT = (
    "<think>\nLet me compute 6*7 with python.\n```python\nprint(6*7)\n```\n"
    "```output\n42\n```\nIt printed 42.</think>The answer is \\boxed{42}."
)
PROBLEM = Problem(id="p", text="What is 6*7?", answer="42")


@pytest.fixture(scope="module", autouse=True)
def vocabulary():
    """openai-harmony's vocabulary from the offline copy (see tests/harmony_vocab.py)."""
    from harmony_vocab import harmony_vocab_dir

    try:
        folder = harmony_vocab_dir()
    except Exception as exc:
        pytest.skip(f"no o200k_base.tiktoken for openai-harmony ({exc})")
    old = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(folder)
    harmony_encoding.cache_clear()
    yield
    harmony_encoding.cache_clear()
    if old is None:
        os.environ.pop("TIKTOKEN_ENCODINGS_BASE", None)
    else:
        os.environ["TIKTOKEN_ENCODINGS_BASE"] = old


def read(raw_pieces: list[str], prefix: str = "") -> str:
    reader = HarmonyFormat().reader(prefix)
    return "".join(reader.feed(piece) for piece in raw_pieces) + reader.finish()


def harmony_prompt(*assistant: object, python_tool: bool = True) -> str:
    """openai-harmony's own rendering of the TIR chat, then `assistant` messages, for completion."""
    system = h.SystemContent.new().with_reasoning_effort(h.ReasoningEffort.HIGH)
    if python_tool:
        system = system.with_tools(h.ToolNamespaceConfig.python())
    tir = PROMPTS["tir"].messages(PROBLEM.text)
    messages = [
        h.Message.from_role_and_content(h.Role.SYSTEM, system),
        h.Message.from_role_and_content(
            h.Role.DEVELOPER, h.DeveloperContent.new().with_instructions(tir[0]["content"])
        ),
        h.Message.from_role_and_content(h.Role.USER, PROBLEM.text),
        *assistant,
    ]
    encoding = harmony_encoding()
    conversation = h.Conversation.from_messages(messages)
    return encoding.decode(encoding.render_conversation_for_completion(conversation, h.Role.ASSISTANT))


def analysis(text: str):
    return h.Message.from_role_and_content(h.Role.ASSISTANT, text).with_channel("analysis")


def test_stream_maps_analysis_to_thinking_a_python_call_to_a_code_block_and_final_to_the_answer():
    raw = ANALYSIS + CALL + "<|call|>"
    # Delta boundaries fall inside special tokens and the header, as a server may split them.
    pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    assert read(pieces) == "<think>\nLet me compute 6*7 with python.\n```python\nprint(6*7)\n```\n"
    after = "<think>\nx\n```python\nprint(6*7)\n```\n```output\n42\n```\n"
    assert (
        read([AFTER_OUTPUT, FINAL, "<|return|>"], after) == "It printed 42.</think>The answer is \\boxed{42}."
    )


def test_a_call_the_server_ended_on_its_stop_token_still_closes_its_code_block():
    # vLLM drops the stop token `<|call|>` from the text: the end of the stream closes the block.
    assert read([ANALYSIS, CALL]).endswith("```python\nprint(6*7)\n```\n")


def test_the_reader_agrees_with_openai_harmonys_own_parser():
    raw = ANALYSIS + CALL + "<|call|>"
    tokens = harmony_encoding().encode(raw, allowed_special="all")
    parsed = harmony_encoding().parse_messages_from_completion_tokens(tokens, h.Role.ASSISTANT)
    assert [(m.channel, m.recipient, m.content[0].text) for m in parsed] == [
        ("analysis", None, "Let me compute 6*7 with python."),
        ("analysis", "python", "print(6*7)"),
    ]
    assert read([raw]) == "<think>\n" + parsed[0].content[0].text + "\n```python\n" + "print(6*7)\n```\n"


def test_a_continuation_is_rendered_as_the_call_and_the_tool_answer_token_exactly():
    fmt = HarmonyFormat()
    messages = PROMPTS["tir"].messages(PROBLEM.text)
    first = fmt.render(messages, python_tool=True)
    assert first == harmony_prompt()
    # The model's own turn, read and then rendered back, is the prompt followed by exactly what it wrote.
    written = read([ANALYSIS + CALL + "<|call|>"])
    assert fmt.render(messages, written + "```output\n42\n```\n", python_tool=True) == (
        first + ANALYSIS + CALL + "<|call|>"
        "<|start|>python to=assistant<|channel|>analysis<|message|>42<|end|><|start|>assistant"
    )
    # Inside an unfinished message the prompt ends inside it, so the model goes on with the same message.
    assert (
        fmt.render(messages, "<think>\nLet me", python_tool=True)
        == first + "<|channel|>analysis<|message|>Let me"
    )
    assert fmt.render(messages, "<think>\nhm</think>The answer is \\boxed{", python_tool=True).endswith(
        "<|start|>assistant<|channel|>analysis<|message|>hm<|end|>"
        "<|start|>assistant<|channel|>final<|message|>The answer is \\boxed{"
    )


def test_reasoning_effort_and_no_python_tool_for_chain_of_thought():
    low = HarmonyFormat("low").render(PROMPTS["cot"].messages(PROBLEM.text))
    assert "Reasoning: low" in low and "## python" not in low


def test_missing_vocabulary_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", str(tmp_path))
    monkeypatch.setenv("TIKTOKEN_RS_CACHE_DIR", str(tmp_path))
    harmony_encoding.cache_clear()
    try:
        with pytest.raises(TemplateError, match="TIKTOKEN_ENCODINGS_BASE") as err:
            harmony_encoding()
        assert "\n" not in str(err.value)
    finally:
        harmony_encoding.cache_clear()


def completion_events(raw: str, finish: str = "stop") -> list[object]:
    pieces = [raw[i : i + 9] for i in range(0, len(raw), 9)]
    events: list[object] = [{"choices": [{"index": 0, "text": p, "finish_reason": None}]} for p in pieces]
    usage = {"prompt_tokens": 100, "completion_tokens": len(pieces)}
    events += [{"choices": [{"index": 0, "text": "", "finish_reason": finish}], "usage": usage}, "[DONE]"]
    return events


def test_a_tool_integrated_sample_on_a_server_streaming_harmony_runs_its_code_and_answers():
    """Round 1 calls python (the server drops `<|call|>`), aimo runs the code in the real sandbox,
    round 2's prompt carries the call and the tool's answer as harmony messages; the final channel
    holds the answer."""
    script = [completion_events(ANALYSIS + CALL), completion_events(AFTER_OUTPUT + FINAL)]
    strategy = StrategyConfig(strategy="tir", samples=1, greedy_first=False)

    async def go():
        engine = OpenAIEngine([server.url], api="completions", chat_template="harmony")
        try:
            async with Sandbox(SandboxConfig()) as sandbox:
                runner = SampleRunner(engine, strategy, SamplingConfig(max_tokens=200), sandbox.session)
                return await ProblemSolver(runner, strategy).solve(PROBLEM, None)
        finally:
            await engine.aclose()

    with ScriptedSSE(script) as server:
        result = asyncio.run(go())
    sample = result.samples[0]
    assert [run.output for run in sample.code_runs] == ["42"]
    assert result.answer == "42" and sample.text == AIMO_TEXT.removesuffix(".")  # stopped at the box
    first, second = server.requests
    assert first["prompt"] == harmony_prompt()
    call = (
        h.Message.from_role_and_content(h.Role.ASSISTANT, "print(6*7)")
        .with_channel("analysis")
        .with_recipient("python")
        .with_content_type("code")
    )
    answer = (
        h.Message.from_author_and_content(h.Author.new(h.Role.TOOL, "python"), "42")
        .with_recipient("assistant")
        .with_channel("analysis")
    )
    assert second["prompt"] == harmony_prompt(analysis("Let me compute 6*7 with python."), call, answer)
    assert first["skip_special_tokens"] is False
    assert sorted(first["stop_token_ids"]) == sorted(harmony_encoding().stop_tokens_for_assistant_actions())


def test_reader_holds_back_a_special_token_split_across_deltas():
    reader = HarmonyReader()
    assert reader.feed("<|chan") == ""
    assert reader.feed("nel|>final<|message|>4") == "4"
    assert reader.feed("2<|") == "2"
    assert reader.feed("return|>") == "" and reader.finish() == ""


def test_a_server_that_drops_the_special_tokens_is_a_clear_error():
    reader = HarmonyReader()
    assert reader.feed("analysisLet me think.assistantfinal42") == ""
    with pytest.raises(TemplateError, match="skip_special_tokens=false"):
        reader.finish()
