"""`aimo doctor`: its judgements as pure functions, the tiny model (all ✓ but the answer), and a server
that streams empty completions (the engine check fails)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from servers import ScriptedSSE, chat_delta

from aimo.config import RunConfig
from aimo.doctor import run_doctor
from aimo.doctor.checks import capacity_verdict, check_reasoning, estimate_verdict
from aimo.doctor.probes import judge_reasoning, judge_rendering, judge_reply, judge_stop, pick_stop_string
from aimo.engines.openai import OpenAIEngine

SYSTEM = "Be brief."


def chatml(messages, generation_prompt=True):
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if generation_prompt else "")


def test_a_chatml_template_passes():
    verdict = judge_rendering(chatml, SYSTEM)
    assert verdict.status == "pass"
    assert "<|im_start|>assistant" in verdict.detail


def test_a_template_without_the_generation_prompt_fails():
    verdict = judge_rendering(lambda m: chatml(m, generation_prompt=False), SYSTEM)
    assert verdict.status == "fail"
    assert "not with the assistant's opening" in verdict.detail


def test_a_template_may_add_text_after_the_assistant_header():
    # DeepSeek-R1 style: the generation prompt opens the thinking too.
    verdict = judge_rendering(lambda m: chatml(m) + ("<think>\n" if m[-1]["role"] == "user" else ""), SYSTEM)
    assert verdict.status == "pass"


def test_template_failures_lack_of_user_text_and_errors():
    def raises(messages):
        raise ValueError("System role not supported")

    assert judge_rendering(raises, SYSTEM).status == "fail"
    assert "System role" in judge_rendering(raises, SYSTEM).detail
    assert judge_rendering(lambda m: "<s>[INST] [/INST]", SYSTEM).status == "fail"
    no_system = judge_rendering(lambda m: chatml([x for x in m if x["role"] != "system"]), SYSTEM)
    assert no_system.status == "warn"


def test_reply_must_have_text_and_no_template_tokens():
    assert judge_reply("Five.").status == "pass"
    assert judge_reply("  \n").status == "fail"
    leaked = judge_reply("5<|im_end|>\n<|im_start|>user")
    assert leaked.status == "fail" and "<|im_end|>" in leaked.detail


def test_stop_string_is_picked_from_the_second_half_at_its_first_occurrence():
    text = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"
    stop = pick_stop_string(text)
    assert stop is not None and stop.strip()
    assert text.find(stop) >= len(text) // 2
    assert pick_stop_string("ab") is None
    assert pick_stop_string("aaaa aaaa aaaa") is None  # nothing new in the second half


def test_stop_judgement():
    free = "1, 2, 3, 4, 5, 6, 7, 8, 9"
    at = free.index("7, 8")
    assert judge_stop(free, free[:at], "stop", "7, 8").status == "pass"
    assert judge_stop(free, free, "length", "7, 8").status == "fail"  # the stop string came out
    assert judge_stop(free, free[:at], "length", "7, 8").status == "fail"
    assert judge_stop(free, "1, 2, 9", "stop", "7, 8").status == "warn"  # the runs differed first


def test_capacity_of_an_in_process_engine():
    config = RunConfig.from_dict({"strategy": {"samples": 8}, "sampling": {"max_tokens": 2048}})
    roomy = SimpleNamespace(name="llamacpp", n_ctx=32768, max_sequences=16)
    assert capacity_verdict(roomy, config).status == "pass"
    tight = capacity_verdict(SimpleNamespace(name="llamacpp", n_ctx=8192, max_sequences=4), config)
    assert tight.status == "warn" and "8 samples but 4 sequence slots" in tight.detail
    assert "context holds 8,192" in tight.detail
    assert capacity_verdict(SimpleNamespace(name="openai"), config).status == "skip"


def test_estimate_is_samples_times_tokens_over_throughput():
    config = RunConfig.from_dict({"strategy": {"samples": 8}, "sampling": {"max_tokens": 1000}})
    verdict = estimate_verdict(80.0, config, typical_tokens=None)
    assert verdict.status == "pass" and "≈100s per problem" in verdict.detail
    assert "≈50.0s" in estimate_verdict(80.0, config, typical_tokens=500).detail
    assert estimate_verdict(0.0, config, None).status == "fail"
    budget = RunConfig.from_dict({**config.model_dump(), "budget": {"total_s": 1000}})
    tight = estimate_verdict(80.0, budget, None)
    assert tight.status == "warn" and "≈10.0 problems" in tight.detail


def test_doctor_on_the_tiny_model_fails_only_the_answer_check(tiny_model, run_aimo):
    done = run_aimo("doctor", "--model", str(tiny_model), "--samples", "2", "--max-tokens", "24")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if line[:1] in "✓✗!–"}
    for name in ("engine", "capacity", "chat", "stop", "sandbox", "speed"):
        assert lines[name].startswith("✓"), done.stdout
    assert lines["answer"].startswith("✗")
    assert "doctor: FAILED answer: no sample of 'What is 2+3?' boxed 5" in done.stderr


def empty_completion() -> list[object]:
    return [chat_delta("", None), chat_delta("", "stop"), "[DONE]"]


def test_doctor_fails_on_a_server_that_returns_empty_completions(run_aimo):
    with ScriptedSSE([empty_completion() for _ in range(4)]) as server:
        done = run_aimo("doctor", "--engine", "openai", "--model", server.url, "--strategy", "cot")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED engine: openai returned an empty completion" in done.stderr
    assert "answer" in done.stdout and "skipped: the engine check failed" in done.stdout


def test_run_doctor_reports_each_check_as_it_goes():
    seen = []
    with ScriptedSSE([empty_completion()]) as server:
        config = RunConfig.from_dict({"engine": {"engine": "openai", "base_urls": [server.url]}})
        results = asyncio.run(run_doctor(config, on_check=seen.append))
    assert [r.name for r in results] == [
        "engine",
        "capacity",
        "chat template",
        "reasoning",
        "stop strings",
        "sandbox",
        "answer",
        "speed",
    ]
    assert seen == results
    assert results[0].status == "fail"
    assert [r.status for r in results[1:4]] == ["skip", "skip", "skip"]


def test_an_engine_that_cannot_start_fails_the_engine_check(tmp_path):
    config = RunConfig.from_dict({"engine": {"model": str(tmp_path / "missing.gguf")}})
    results = asyncio.run(run_doctor(config))
    assert results[0].name == "engine" and results[0].status == "fail"
    assert "missing.gguf" in results[0].detail


def test_the_replay_engine_has_nothing_to_check_but_the_sandbox(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"problem_id": "p", "problem": "What is 2+3?", "samples": [{"answer": "5"}]}\n')
    config = RunConfig.from_dict({"engine": {"engine": "replay", "traces": str(trace)}})
    results = asyncio.run(run_doctor(config))
    assert {r.name: r.status for r in results if r.name != "sandbox"} == dict.fromkeys(
        ["engine", "capacity", "chat template", "reasoning", "stop strings", "answer", "speed"], "skip"
    )


def test_reasoning_judgement():
    assert judge_reasoning("Five.", None).status == "skip"
    assert judge_reasoning("<think>2+3=5</think> The answer is 5.", None).status == "pass"
    assert judge_reasoning("2+3=5</think> The answer is 5.", True).status == "pass"
    unparsed = judge_reasoning("2+3=5</think> The answer is 5.", None)
    assert unparsed.status == "warn" and "--reasoning-parser" in unparsed.detail
    assert judge_reasoning("<think>long thinking", None).status == "pass"
    assert judge_reasoning("<think><think>2+3</think>5", None).status == "warn"


def reasoning_delta(text: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"reasoning_content": text}, "finish_reason": None}]}


def probe(script: list[object]):
    async def go():
        engine = OpenAIEngine([server.url])
        try:
            return await check_reasoning(engine)
        finally:
            await engine.aclose()

    with ScriptedSSE([script]) as server:
        return asyncio.run(go())


def test_reasoning_check_passes_a_server_with_a_reasoning_parser():
    verdict = probe(
        [
            reasoning_delta("2+3"),
            reasoning_delta(" is 5."),
            chat_delta("\\boxed{5}"),
            chat_delta("", "stop"),
            "[DONE]",
        ]
    )
    assert verdict.status == "pass", verdict


def test_reasoning_check_warns_when_the_thinking_arrives_unparsed():
    verdict = probe([chat_delta("2+3 is 5.</think>"), chat_delta("\\boxed{5}", "stop"), "[DONE]"])
    assert verdict.status == "warn" and "--reasoning-parser" in verdict.detail
