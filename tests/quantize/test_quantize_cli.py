"""`aimo quantize` through the command line: option errors, and the GGUF path with its before/after check."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aimo.cli.app import app
from aimo.quantize import QuantizeError

runner = CliRunner()


def quantize(*args: str):
    return runner.invoke(app, ["quantize", *args], catch_exceptions=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a MODEL"),
        (["m", "-o", "x"], "exactly one of --scheme and --to"),
        (["m", "--scheme", "w4a16-awq", "--to", "gguf:F16", "-o", "x"], "exactly one of --scheme and --to"),
        (["m", "--scheme", "w4a16-awq"], "give --output"),
    ],
)
def test_option_mistakes_are_named(args, message):
    result = quantize(*args)
    assert result.exit_code == 2 and message in result.output


def test_revision_is_refused_for_a_local_model(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    result = quantize(str(tmp_path), "--scheme", "w8a16", "-o", str(tmp_path / "q"), "--revision", "abc")
    assert isinstance(result.exception, QuantizeError) and "--revision pins a hub model" in str(
        result.exception
    )


def test_unknown_scheme_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    result = quantize(str(tmp_path), "--scheme", "w3a16", "-o", str(tmp_path / "q"))
    assert isinstance(result.exception, QuantizeError) and "unknown scheme 'w3a16'" in str(result.exception)


def test_gguf_with_check_prints_both_models_side_by_side(
    tiny_quantizable, converter, math_problems, tmp_path
):
    config = tmp_path / "check.toml"
    config.write_text(
        '[engine]\nn_ctx = 2048\n[sampling]\nmax_tokens = 16\n[strategy]\nsamples = 2\nstrategy = "cot"\n'
    )
    out = tmp_path / "tiny-q8.gguf"
    result = quantize(
        str(tiny_quantizable),
        "--to", "gguf:Q8_0",
        "-o", str(out),
        "--converter", str(converter),
        "--check", str(math_problems),
        "--check-limit", "2",
        "--check-concurrency", "1,2",
        "--check-max-tokens", "16",
        "--config", str(config),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file()
    check = json.loads((tmp_path / "tiny-q8.gguf.check" / "check.json").read_text())
    original, quantized = check["sides"]
    assert original["model"].endswith("original-f16.gguf") and quantized["model"] == str(out)
    for side in (original, quantized):
        assert side["metrics"]["accuracy"] is not None
        assert set(side["tok_s"]) == {"1", "2"} and all(v > 0 for v in side["tok_s"].values())
    assert "tok/s @ 2" in result.output and "quantized/original" in result.output


def test_a_missing_local_model_is_not_looked_up_on_the_hub(tmp_path):
    result = quantize(str(tmp_path / "no-such-model"), "--scheme", "w8a16", "-o", str(tmp_path / "q"))
    assert isinstance(result.exception, QuantizeError) and "model not found" in str(result.exception)
