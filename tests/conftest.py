"""Shared fixtures: a tiny real GGUF model, the shared data folder, the default model when present."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aimo.solve.simulate import shared_data_dir as locate_shared_data

sys.path.insert(0, str(Path(__file__).parent))  # test support modules (tinymodel)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    path = locate_shared_data()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}: check out ../shared or set AIMO_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """A random-weight Qwen2-architecture GGUF with the real Qwen2 tokenizer and chat template."""
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python: pip install -e '.[llamacpp]'")
    from tinymodel import build_tiny_qwen2, qwen2_vocab, test_cache

    path = test_cache() / "tiny-qwen2-64x2.gguf"
    if not path.is_file():
        try:
            qwen2_vocab()
        except Exception as exc:
            pytest.skip(f"could not get the Qwen2 vocab GGUF from llama-cpp-python's sdist ({exc})")
        tmp = path.with_suffix(".tmp")
        build_tiny_qwen2(tmp)
        tmp.rename(path)
    return path
