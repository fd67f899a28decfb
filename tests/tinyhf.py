"""A tiny random-weight Hugging Face model directory (Qwen2 architecture) around a real tokenizer.

The HF twin of `tinymodel.py`, for engines that load a model directory (vLLM): the tokenizer, with
its chat template, is loaded by transformers from the same vocab-only Qwen2 GGUF and saved in HF
form; the weights are random (safetensors), so the text is gibberish but loading, the chat template,
tokenizing, batching, streaming and aborting are all real. Needs torch, transformers and gguf, so it
runs in the vLLM environment:

    python tests/tinyhf.py          # prints the model directory, building it on first use
    python tests/tinyhf.py --reward # the same for a reward-model-shaped twin (a one-label score head)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from tinymodel import qwen2_vocab, test_cache

MODEL_NAME = "tiny-qwen2-hf-v2"  # bump when the recipe changes, so a stale cache is not reused
R1_MODEL_NAME = "tiny-r1-qwen2-hf-v1"
R1_TEMPLATE = Path(__file__).parent / "engines" / "data" / "deepseek-r1-distill-qwen.jinja"


def tiny_hf_model(seed: int = 0) -> Path:
    """The model directory under the test cache; built (about 20 s) the first time."""
    return _cached(MODEL_NAME, seed=seed)


def tiny_r1_hf_model() -> Path:
    """The same tiny model dressed as a DeepSeek-R1 distill: the R1 chat template, and `<think>` /
    `</think>` as single added tokens (vLLM's deepseek_r1 reasoning parser looks them up)."""
    return _cached(R1_MODEL_NAME, chat_template=R1_TEMPLATE.read_text(), added_tokens=("<think>", "</think>"))


def _cached(name: str, **recipe: object) -> Path:
    target = test_cache() / name
    if not (target / "config.json").is_file():
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            build_tiny_hf(Path(tmp) / "model", qwen2_vocab(), **recipe)  # type: ignore[arg-type]
            shutil.rmtree(target, ignore_errors=True)
            os.replace(Path(tmp) / "model", target)
    return target


def build_tiny_hf(
    path: Path,
    vocab_gguf: Path,
    hidden: int = 64,
    n_head: int = 2,
    n_layer: int = 2,
    seed: int = 0,
    chat_template: str | None = None,
    added_tokens: tuple[str, ...] = (),
) -> Path:
    """Write config, random bf16 weights and the GGUF's tokenizer (in HF form) to `path`."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    with tempfile.TemporaryDirectory() as tmp:  # transformers reads a GGUF from a directory
        shutil.copy(vocab_gguf, Path(tmp) / vocab_gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=vocab_gguf.name)
    if added_tokens:
        tokenizer.add_tokens(list(added_tokens))
    if chat_template is not None:
        tokenizer.chat_template = chat_template
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


REWARD_NAME = "tiny-qwen2-rm-v1"


def tiny_reward_model(seed: int = 0) -> Path:
    """A reward-model-shaped twin: the tiny model's tokenizer and config with a one-label score head
    (`Qwen2ForSequenceClassification`, as vLLM serves reward models with `--runner pooling`)."""
    target = test_cache() / REWARD_NAME
    if not (target / "config.json").is_file():
        import torch
        from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification

        source = tiny_hf_model(seed)
        tokenizer = AutoTokenizer.from_pretrained(source)
        config = Qwen2Config.from_pretrained(source, num_labels=1)
        config.architectures = ["Qwen2ForSequenceClassification"]
        config.pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.eos_token_id
        )
        torch.manual_seed(seed)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            Qwen2ForSequenceClassification(config).to(torch.bfloat16).save_pretrained(Path(tmp) / "model")
            tokenizer.save_pretrained(Path(tmp) / "model")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(Path(tmp) / "model", target)
    return target


if __name__ == "__main__":
    builders = {"r1": tiny_r1_hf_model, "--reward": tiny_reward_model}
    build = builders.get(sys.argv[1] if len(sys.argv) > 1 else "", tiny_hf_model)
    sys.stdout.write(f"{build()}\n")
