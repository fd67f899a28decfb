"""The llm-compressor schemes `aimo quantize --scheme` offers, and the recipe each one runs.

Each scheme is what a winning AIMO notebook used, written as an llm-compressor recipe whose output
is a compressed-tensors checkpoint that vLLM loads as it is (no `--quantization` flag needed):

- `w4a16-awq`: 4-bit integer weights, groups of 128, asymmetric, AWQ's activation-aware scaling.
- `w4a16-gptq`: 4-bit integer weights, groups of 128, symmetric, GPTQ's error-correcting rounding.
- `w8a16`: 8-bit integer weights per channel through GPTQ ("8-bit GPTQ calibrated on the training data").
- `w8a8-fp8`: FP8 weights per channel and FP8 activations per token (dynamic), for Hopper/Ada GPUs.

Any scheme can add FP8 KV-cache scales (`kv_cache_fp8`), calibrated on the same data; vLLM then
runs with `--kv-cache-dtype fp8` and reads the scales from the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aimo.errors import AimoError

Algorithm = Literal["awq", "gptq", "rtn"]  # rtn: round to nearest (llm-compressor's QuantizationModifier)
IGNORE = ["lm_head"]  # the output layer stays in full precision, as in every published recipe


class QuantizeError(AimoError):
    """A quantization that cannot run: a bad scheme, a missing package or converter, bad input."""


@dataclass(frozen=True)
class Scheme:
    """One `--scheme`: the algorithm and the compressed-tensors preset it quantizes to."""

    name: str
    algorithm: Algorithm
    preset: str  # a compressed-tensors preset scheme name (W4A16, W4A16_ASYM, W8A16, FP8_DYNAMIC)
    description: str
    gpu_only: bool = False  # vLLM runs it only on a CUDA GPU


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("w4a16-awq", "awq", "W4A16_ASYM", "4-bit weights (group 128, asymmetric), AWQ scaling"),
        Scheme("w4a16-gptq", "gptq", "W4A16", "4-bit weights (group 128, symmetric), GPTQ"),
        Scheme("w8a16", "gptq", "W8A16", "8-bit weights (per channel), GPTQ"),
        Scheme(
            "w8a8-fp8", "rtn", "FP8_DYNAMIC", "FP8 weights (per channel), FP8 activations (per token)", True
        ),
    )
}


def get_scheme(name: str) -> Scheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise QuantizeError(f"unknown scheme {name!r}: one of {', '.join(SCHEMES)}") from None


def kv_cache_fp8_args() -> dict[str, Any]:
    """FP8 (E4M3) KV cache with one static scale per tensor: what vLLM's `--kv-cache-dtype fp8` reads."""
    return {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False, "symmetric": True}


def build_recipe(scheme: Scheme, kv_cache_fp8: bool = False) -> list[Any]:
    """The llm-compressor modifiers of `scheme` (imports llm-compressor)."""
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier

    kv = {"kv_cache_scheme": kv_cache_fp8_args()} if kv_cache_fp8 else {}
    common = {"targets": ["Linear"], "ignore": IGNORE, "scheme": scheme.preset, **kv}
    if scheme.algorithm == "gptq":
        return [GPTQModifier(**common)]
    quantize = QuantizationModifier(**common)
    if scheme.algorithm == "awq":
        from llmcompressor.modifiers.transform.awq import AWQModifier

        return [AWQModifier(), quantize]  # AWQ only rescales; the modifier after it quantizes
    return [quantize]
