"""Command-line options on top of a TOML config."""

from __future__ import annotations

import pytest

from aimo.cli.options import build_config
from aimo.config import ConfigError


def test_flags_override_the_config_file(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[strategy]\nsamples = 16\nstrategy = "mix"\n[sampling]\ntemperature = 0.6\n')
    run = build_config(
        config, samples=4, vote="code_verified=2,entropy", stop_rules="4/4,4/5", time_budget=60
    )
    assert (run.strategy.samples, run.strategy.strategy, run.sampling.temperature) == (4, "mix", 0.6)
    assert run.strategy.vote.code_verified == 2.0 and run.strategy.vote.entropy is True
    assert run.strategy.stop_rules == "4/4,4/5" and run.budget.total_s == 60


def test_several_server_urls_become_base_urls():
    run = build_config(None, model="http://a:8000/v1, http://b:8000/v1")
    assert run.engine.base_urls == ["http://a:8000/v1", "http://b:8000/v1"] and run.engine.model is None


def test_chat_template_implies_the_completions_api_unless_an_api_is_given():
    run = build_config(None, model="http://a:8000/v1,http://b:8000/v1", chat_template="org/model")
    assert run.engine.chat_template == "org/model" and run.engine.api == "completions"
    assert build_config(None, chat_template="t.jinja", api="chat").engine.api == "chat"
    assert build_config(None).engine.api == "chat" and build_config(None).engine.chat_template is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vote": "bogus=1"}, "strategy.vote.bogus"),
        ({"stop_rules": "4/x"}, "--stop-rules"),
        ({"samples": 0}, "strategy.samples"),
        ({"api": "grpc"}, "engine.api"),
        ({"extra_body": "[1]"}, "--extra-body: expected a JSON object"),
        ({"extra_body": "{top_k: 2}"}, "--extra-body: not JSON"),
        ({"reasoning_effort": "max"}, "engine.reasoning_effort"),
    ],
)
def test_bad_values_are_one_line_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        build_config(None, **kwargs)
    assert "\n" not in str(info.value)


def test_gpt_oss_flags_reach_the_engine_config():
    run = build_config(None, chat_template="harmony", reasoning_effort="low", extra_body='{"top_k": 20}')
    assert run.engine.api == "completions" and run.engine.chat_template == "harmony"
    assert run.engine.reasoning_effort == "low" and run.engine.extra_body == {"top_k": 20}


def test_an_entropy_weighted_vote_asks_the_engine_for_logprobs():
    assert build_config(None, vote="entropy").strategy.logprobs
    assert not build_config(None, vote="code_verified=2").strategy.logprobs
