"""Fixtures of the quantization tests: a tiny quantizable HF model, math calibration problems, the converter.

These tests need the `quantize` extra (torch, llm-compressor) in the environment that runs pytest;
they skip with the install command otherwise. The model is random (Qwen2 architecture, every linear
layer's input a multiple of 128 so that 4-bit groups of 128 fit) around the real Qwen2 tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from calibration_problems import write_problems

INSTALL = "needs the quantize extra: pip install torch==2.13.0 && pip install -e '.[quantize]'"


@pytest.fixture(scope="session")
def quant_stack() -> None:
    pytest.importorskip("torch", reason=INSTALL)
    pytest.importorskip("llmcompressor", reason=INSTALL)


@pytest.fixture(scope="session")
def tiny_quantizable(quant_stack: None) -> Path:
    """The tiny Qwen2 model directory (bf16, hidden 128), built once into the test cache."""
    from tinyhf import QUANTIZABLE_HIDDEN, QUANTIZABLE_NAME, tiny_hf_model
    from tinymodel import qwen2_vocab

    try:
        qwen2_vocab()
    except Exception as exc:
        pytest.skip(f"could not get the Qwen2 vocab GGUF from llama-cpp-python's sdist ({exc})")
    return tiny_hf_model(name=QUANTIZABLE_NAME, hidden=QUANTIZABLE_HIDDEN)


@pytest.fixture(scope="session")
def math_problems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_problems(tmp_path_factory.mktemp("calibration") / "problems.jsonl")


@pytest.fixture(scope="session")
def converter() -> Path:
    """llama.cpp's convert_hf_to_gguf.py, fetched by aimo from llama-cpp-python's sdist (cached)."""
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python: pip install -e '.[llamacpp]'")
    pytest.importorskip("sentencepiece", reason=INSTALL)
    from aimo.quantize.gguf import fetch_converter

    try:
        return fetch_converter(progress=lambda _: None)
    except Exception as exc:
        pytest.skip(f"could not fetch llama.cpp's converter from PyPI ({exc})")
