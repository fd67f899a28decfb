"""aimo renders the model's own chat template and sends raw text to the completions API.

The R1-distill template (tests/engines/data) opens `<think>\\n` at the generation prompt and drops the
thinking from assistant messages: the rendering must be template(messages) + the assistant prefix,
verbatim, so that a continuation after a code output is token-exact."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from servers import ScriptedSSE, llama_server

from aimo.engines.base import EngineError, GenerationRequest, complete
from aimo.engines.openai import OpenAIEngine
from aimo.engines.template import ChatTemplate, TemplateError, load_chat_template

R1_TEMPLATE = Path(__file__).parent / "data" / "deepseek-r1-distill-qwen.jinja"
MESSAGES = [{"role": "user", "content": "What is 6*7?"}]
PREFIX = "Let me compute.\n```python\nprint(6*7)\n```\n```output\n42\n```\n"
R1_RENDERED = "<｜begin▁of▁sentence｜><｜User｜>What is 6*7?<｜Assistant｜><think>\n"


def r1_template() -> ChatTemplate:
    return ChatTemplate(R1_TEMPLATE.read_text(), bos_token="<｜begin▁of▁sentence｜>", origin="r1")


@pytest.fixture(scope="module")
def tiny_r1_model(tiny_model):
    """The tiny Qwen2-tokenizer model carrying the DeepSeek-R1-distill-Qwen chat template."""
    from tinymodel import build_tiny_qwen2, test_cache

    path = test_cache() / "tiny-r1-qwen2-64x2.gguf"
    if not path.is_file():
        tmp = path.with_suffix(".tmp")
        build_tiny_qwen2(tmp, chat_template=R1_TEMPLATE.read_text())
        tmp.rename(path)
    return path


def test_r1_template_opens_thinking_and_keeps_the_prefix_verbatim():
    template = r1_template()
    assert template.render(MESSAGES) == R1_RENDERED
    assert template.render(MESSAGES, PREFIX) == R1_RENDERED + PREFIX
    # As an assistant message the template would drop the thinking: the prefix path never does that.
    dropped = template.render([*MESSAGES, {"role": "assistant", "content": "<think>x</think>y"}])
    assert "<think>x" not in dropped


def test_template_from_a_model_directory_and_a_tokenizer_config(tmp_path):
    config = {
        "chat_template": R1_TEMPLATE.read_text(),
        "bos_token": {"content": "<B>"},
        "add_bos_token": True,
    }
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    template = load_chat_template(str(tmp_path))
    # The tokenizer adds BOS itself (add_bos_token), so the rendered text does not repeat it.
    assert template.bos_token == "<B>" and template.render(MESSAGES) == R1_RENDERED.removeprefix(
        "<｜begin▁of▁sentence｜>"
    )
    assert load_chat_template(str(tmp_path / "tokenizer_config.json")).source == config["chat_template"]
    (tmp_path / "chat_template.jinja").write_text("{{ messages[0]['content'] }}!")
    assert load_chat_template(str(tmp_path)).render(MESSAGES, "go") == "What is 6*7?!go"
    assert load_chat_template(str(R1_TEMPLATE)).source == R1_TEMPLATE.read_text()


def test_template_from_a_gguf(tiny_r1_model):
    template = load_chat_template(str(tiny_r1_model))
    assert template.source == R1_TEMPLATE.read_text()
    assert template.render(MESSAGES, PREFIX).endswith(
        "<｜User｜>What is 6*7?<｜Assistant｜><think>\n" + PREFIX
    )


def test_a_hub_id_without_a_hub_is_a_one_line_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # fail at once, not after retries
    with pytest.raises(TemplateError, match="could not fetch the chat template of org/no-such-model") as err:
        load_chat_template("org/no-such-model")
    assert "\n" not in str(err.value)
    with pytest.raises(TemplateError, match="not found"):
        load_chat_template("./missing.jinja")


def test_completions_api_sends_the_rendered_prompt():
    ok = [{"choices": [{"index": 0, "text": "x", "finish_reason": "stop"}]}, "[DONE]"]
    with ScriptedSSE([ok]) as s:
        req = GenerationRequest(messages=MESSAGES, assistant_prefix=PREFIX, max_tokens=8, stop=["```output"])

        async def go():
            engine = OpenAIEngine([s.url], api="completions", chat_template=r1_template())
            try:
                return await complete(engine, req)
            finally:
                await engine.aclose()

        asyncio.run(go())
    body = s.requests[0]
    assert body["prompt"] == R1_RENDERED + PREFIX and "messages" not in body


def test_completions_api_without_a_template_says_how_to_give_one():
    engine = OpenAIEngine(["http://127.0.0.1:9/v1"], api="completions")
    with pytest.raises(EngineError, match="--chat-template"):
        engine.request_body(GenerationRequest(messages=MESSAGES), "m")
    asyncio.run(engine.aclose())


def test_aimo_rendering_matches_the_servers_own_chat_rendering(tiny_r1_model):
    """llama.cpp's server renders the GGUF's template for the chat API; aimo's rendering of the same
    template sent to the completions API gives the very same greedy tokens."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    req = GenerationRequest(messages=MESSAGES, max_tokens=24, temperature=0.0, seed=0)
    with llama_server(tiny_r1_model) as url:

        async def go():
            chat = OpenAIEngine([url])
            raw = OpenAIEngine([url], api="completions", chat_template=str(tiny_r1_model))
            try:
                return await complete(chat, req), await complete(raw, req)
            finally:
                await chat.aclose()
                await raw.aclose()

        by_server, by_aimo = asyncio.run(go())
    assert by_server.completion_tokens == by_aimo.completion_tokens == 24
    assert by_aimo.text == by_server.text
