"""A tiny random-weight Hugging Face model directory (Qwen2 architecture) around a real tokenizer.

The HF twin of `tinymodel.py`, for engines that load a model directory (vLLM): the tokenizer, with
its chat template, is loaded by transformers from the same vocab-only Qwen2 GGUF and saved in HF
form; the weights are random (safetensors), so the text is gibberish but loading, the chat template,
tokenizing, batching, streaming and aborting are all real. Needs torch, transformers and gguf, so it
runs in the vLLM environment:

    python tests/tinyhf.py          # prints the model directory, building it on first use
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from tinymodel import qwen2_vocab, test_cache

MODEL_NAME = "tiny-qwen2-hf-v2"  # bump when the recipe changes, so a stale cache is not reused
# Quantization kernels work on groups of 128 input features: every linear layer's input must be a multiple.
QUANTIZABLE_NAME = "tiny-qwen2-hf-128-v1"
QUANTIZABLE_HIDDEN = 128


def tiny_hf_model(seed: int = 0, name: str = MODEL_NAME, hidden: int = 64) -> Path:
    """The model directory under the test cache; built (about 20 s) the first time."""
    target = test_cache() / name
    if not (target / "config.json").is_file():
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            build_tiny_hf(Path(tmp) / "model", qwen2_vocab(), hidden=hidden, seed=seed)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(Path(tmp) / "model", target)
    return target


def build_tiny_hf(
    path: Path, vocab_gguf: Path, hidden: int = 64, n_head: int = 2, n_layer: int = 2, seed: int = 0
) -> Path:
    """Write config, random bf16 weights and the GGUF's tokenizer (in HF form) to `path`."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    with tempfile.TemporaryDirectory() as tmp:  # transformers reads a GGUF from a directory
        shutil.copy(vocab_gguf, Path(tmp) / vocab_gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=vocab_gguf.name)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        num_key_value_heads=n_head,
        max_position_embeddings=16384,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=im_end,
        torch_dtype="bfloat16",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    path.mkdir(parents=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    GenerationConfig(eos_token_id=[im_end, tokenizer.eos_token_id]).save_pretrained(path)
    return path


if __name__ == "__main__":
    if sys.argv[1:] == ["--quantizable"]:
        sys.stdout.write(f"{tiny_hf_model(name=QUANTIZABLE_NAME, hidden=QUANTIZABLE_HIDDEN)}\n")
    else:
        sys.stdout.write(f"{tiny_hf_model()}\n")
