"""A tiny random-weight GGUF model around a real tokenizer, built at test time in seconds.

The tokenizer (Qwen2's, with its chat template) comes from the vocab-only GGUF that ships in
llama-cpp-python's source distribution; the weights are random, so the text is gibberish, but
loading, tokenizing, the chat template, batching and streaming are all real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

VOCAB_MEMBER = "vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"


def test_cache() -> Path:
    root = Path(os.environ.get("AIMO_CACHE_DIR") or Path.home() / ".cache" / "aimo") / "test"
    root.mkdir(parents=True, exist_ok=True)
    return root


def qwen2_vocab() -> Path:
    """The vocab-only Qwen2 GGUF: $AIMO_TEST_VOCAB, the cache, or llama-cpp-python's sdist from PyPI."""
    if env := os.environ.get("AIMO_TEST_VOCAB"):
        return Path(env)
    target = test_cache() / "ggml-vocab-qwen2.gguf"
    if target.is_file():
        return target
    release = version("llama_cpp_python")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                f"llama-cpp-python=={release}",
            ],
            check=True,
            capture_output=True,
        )
        sdist = next(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            member = tar.getmember(f"llama_cpp_python-{release}/{VOCAB_MEMBER}")
            data = tar.extractfile(member)
            assert data is not None
            target.write_bytes(data.read())
    return target


def build_tiny_qwen2(
    path: Path,
    n_embd: int = 64,
    n_head: int = 2,
    n_layer: int = 2,
    seed: int = 0,
    chat_template: str | None = None,
) -> Path:
    """Write a random-weight Qwen2-architecture GGUF with the real Qwen2 tokenizer to `path`
    (and `chat_template` in place of Qwen2's: e.g. DeepSeek-R1-distill-Qwen's, whose tokenizer is Qwen2's)."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter

    reader = GGUFReader(qwen2_vocab())
    writer = GGUFWriter(str(path), "qwen2")
    ffn = n_embd * 2
    writer.add_name("aimo-tiny-qwen2")
    writer.add_context_length(4096)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer.") or (chat_template and name == "tokenizer.chat_template"):
            continue
        kind = field.types[0]
        if kind == GGUFValueType.ARRAY:
            writer.add_key_value(name, field.contents(), kind, sub_type=field.types[1])
        else:
            writer.add_key_value(name, field.contents(), kind)
    if chat_template:
        writer.add_chat_template(chat_template)
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    writer.add_tensor(
        "token_embd.weight", weight(n_vocab, n_embd).astype(np.float16), raw_dtype=GGMLQuantizationType.F16
    )
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    for i in range(n_layer):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for proj in ("q", "k", "v"):
            writer.add_tensor(p + f"attn_{proj}.weight", weight(n_embd, n_embd))
            writer.add_tensor(p + f"attn_{proj}.bias", weight(n_embd))
        writer.add_tensor(p + "attn_output.weight", weight(n_embd, n_embd))
        writer.add_tensor(p + "ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(p + "ffn_gate.weight", weight(ffn, n_embd))
        writer.add_tensor(p + "ffn_up.weight", weight(ffn, n_embd))
        writer.add_tensor(p + "ffn_down.weight", weight(n_embd, ffn))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
