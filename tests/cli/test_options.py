"""Command-line options on top of a TOML config."""

from __future__ import annotations

import pytest

from aimo.cli.options import build_config
from aimo.config import ConfigError
from aimo.solve.stopping import AgreeRule


def test_flags_override_the_config_file(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[strategy]\nsamples = 16\nstrategy = "mix"\n[sampling]\ntemperature = 0.6\n')
    run = build_config(
        config, samples=4, vote="code_verified=2,entropy", stop_rules="4/4,4/5", time_budget=60
    )
    assert (run.strategy.samples, run.strategy.strategy, run.sampling.temperature) == (4, "mix", 0.6)
    assert run.strategy.vote.code_verified == 2.0 and run.strategy.vote.entropy is True
    assert run.strategy.stop_rules == [AgreeRule(4, 4), AgreeRule(4, 5)] and run.budget.total_s == 60


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


def test_run_options_take_their_help_and_defaults_from_the_config_models():
    import typer.main
    from pydantic import BaseModel, Field

    from aimo.cli.app import app
    from aimo.cli.options import config_help
    from aimo.engines.sampling import SamplingConfig
    from aimo.solve.config import StrategyConfig

    class Toy(BaseModel):
        count: int = Field(3, description="Things to count")
        spec: str = Field("", description="A spec")

    assert config_help(Toy, "count") == "Things to count (default 3)."
    assert config_help(Toy, "spec") == "A spec."  # an empty or None default is not shown
    solve = typer.main.get_command(app).commands["solve"]
    helps = {p.name: p.help for p in solve.params}
    for name, model in (("samples", StrategyConfig), ("max_tokens", SamplingConfig)):
        field = model.model_fields[name]
        assert helps[name] == f"{field.description} (default {field.default}).", helps[name]


def test_a_generation_request_defaults_to_the_sampling_config_and_is_built_from_it():
    from aimo.engines.base import GenerationRequest
    from aimo.engines.sampling import SamplingConfig

    plain = GenerationRequest(messages=[])
    defaults = SamplingConfig()
    assert (plain.max_tokens, plain.temperature, plain.top_p, plain.min_p, plain.seed) == (
        defaults.max_tokens,
        defaults.temperature,
        defaults.top_p,
        defaults.min_p,
        defaults.seed,
    )
    sampling = SamplingConfig(max_tokens=99, temperature=0.3, top_p=0.9, min_p=0.05, seed=10)
    request = GenerationRequest.sampled(sampling, 2, prompt="x", temperature=0.0)
    assert (request.max_tokens, request.temperature, request.top_p, request.min_p, request.seed) == (
        99,
        0.0,
        0.9,
        0.05,
        12,
    )
    assert GenerationRequest.sampled(SamplingConfig(), 5, prompt="x").seed is None
