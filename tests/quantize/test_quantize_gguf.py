"""`--to gguf:TYPE` on the tiny HF model: llama.cpp's converter and quantizer write a file that aimo's
llamacpp engine loads; the non-destructive types decode greedily exactly like the HF original."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aimo.engines.base import GenerationRequest, complete
from aimo.quantize import GGUFRequest, QuantizeError, convert, find_converter, read_manifest, resolve_source
from aimo.quantize.gguf import parse_gguf_target

PROMPTS = ["What is 6 times 7?", "The sum of the angles of a triangle is", "Let x be a prime. Then"]
NEW_TOKENS = 12


def to_gguf(model: Path, converter: Path, out: Path, gguf_type: str) -> Path:
    request = GGUFRequest(resolve_source(str(model)), gguf_type, out, converter)
    return convert(request, progress=lambda _: None)


def hf_greedy(model_dir: Path) -> list[str]:
    """What transformers decodes greedily (float32, like llama.cpp's CPU arithmetic)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)
        texts.append(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    return texts


def engine_greedy(gguf: Path) -> list[str]:
    """What aimo's llamacpp engine decodes greedily from the same prompts."""
    from aimo.engines.llamacpp import LlamaCppEngine

    async def run() -> list[str]:
        engine = LlamaCppEngine(str(gguf), n_ctx=512, max_sequences=1)
        try:
            return [
                (
                    await complete(
                        engine, GenerationRequest(prompt=p, max_tokens=NEW_TOKENS, temperature=0.0)
                    )
                ).text
                for p in PROMPTS
            ]
        finally:
            await engine.aclose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def reference(tiny_quantizable) -> list[str]:
    return hf_greedy(tiny_quantizable)


@pytest.mark.parametrize("gguf_type", ["F16", "Q8_0"])
def test_lossless_gguf_decodes_like_the_hf_original(
    gguf_type, tiny_quantizable, converter, reference, tmp_path
):
    path = to_gguf(tiny_quantizable, converter, tmp_path / f"tiny-{gguf_type}.gguf", gguf_type)
    assert engine_greedy(path) == reference
    manifest = read_manifest(path)
    assert manifest["gguf_type"] == gguf_type and manifest["source"]["path"] == str(
        tiny_quantizable.resolve()
    )


def test_k_quant_goes_through_llamas_quantizer_and_loads(tiny_quantizable, converter, tmp_path):
    from gguf import GGMLQuantizationType, GGUFReader

    path = to_gguf(tiny_quantizable, converter, tmp_path / "tiny-q4km.gguf", "Q4_K_M")
    types = {t.name: t.tensor_type for t in GGUFReader(path).tensors}
    # ffn_down's 256 columns fit K-quant blocks; 128-column tensors get llama.cpp's fallback (Q5_0/Q8_0)
    assert types["blk.0.ffn_down.weight"] in (GGMLQuantizationType.Q4_K, GGMLQuantizationType.Q6_K)
    assert types["blk.0.attn_q.weight"] not in (GGMLQuantizationType.F16, GGMLQuantizationType.F32)
    assert all(len(text) > 0 for text in engine_greedy(path))
    assert not list(tmp_path.glob(".aimo-gguf-*"))  # the F16 intermediate is gone


def test_missing_converter_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMO_GGUF_CONVERTER", str(tmp_path / "nowhere"))
    with pytest.raises(QuantizeError, match=r"convert_hf_to_gguf\.py not found at"):
        find_converter()
    monkeypatch.delenv("AIMO_GGUF_CONVERTER")
    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(QuantizeError, match="--fetch-converter"):
        find_converter()


def test_gguf_target_names_are_checked():
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python: pip install -e '.[llamacpp]'")
    assert parse_gguf_target("gguf:q4_k_m") == "Q4_K_M"
    with pytest.raises(QuantizeError, match="unknown GGUF type 'Q9_Z'"):
        parse_gguf_target("gguf:Q9_Z")
    with pytest.raises(QuantizeError, match="expected gguf:TYPE"):
        parse_gguf_target("awq")
