"""What vLLM's CPU build cannot run on this machine, known before a model is loaded.

vLLM's x86 CPU build ships two kernel libraries and picks one by the CPU: the AVX-512 one has the
4-bit weight kernel (`cpu_gemm_wna16`) and the FP8 KV-cache attention; the AVX2 one has neither.
On an AVX2-only CPU, vLLM finds out late and badly: an FP8 cache kills the engine core while it
starts ("see root cause above"), 4-bit weights fail at the first forward pass with a missing-op
`AttributeError`. `cpu_gap` says so first, in one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_FIX = "run it on a CUDA GPU or an x86 CPU with AVX-512"


def cpu_gap(model: str, engine_args: Mapping[str, Any]) -> str | None:
    """Why vLLM (imported here) cannot run `model` with `engine_args` on this CPU, or None if it can
    (or vLLM runs on a GPU here, or nothing is known against it)."""
    if not _x86_cpu_without_avx512():
        return None
    kv_cache_dtype = str(engine_args.get("kv_cache_dtype") or "auto")
    if kv_cache_dtype.startswith("fp8"):
        return (
            f"vLLM's CPU build keeps an FP8 KV cache (kv_cache_dtype = {kv_cache_dtype!r}) only on x86 "
            f"with AVX-512 or AMX, and this CPU has neither: drop it, or {_FIX}"
        )
    bits = weight_only_int_bits(model)
    if bits == 4:
        return (
            f"vLLM's CPU build has a 4-bit weight kernel only for AVX-512 CPUs, and this CPU lacks "
            f"AVX-512: {model} holds 4-bit integer weights; {_FIX}"
        )
    return None


def weight_only_int_bits(model: str) -> int | None:
    """The bit width of a local checkpoint's weight-only integer quantization (GPTQ, AWQ, or
    compressed-tensors wNa16), from its config.json; None for anything else or no readable config."""
    path = Path(model) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8")).get("quantization_config") or {}
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(config, dict):
        return None
    method = config.get("quant_method")
    if method in ("gptq", "awq"):
        return _int(config.get("bits"))
    if method != "compressed-tensors":
        return None
    for group in (config.get("config_groups") or {}).values():
        if not isinstance(group, dict):
            continue
        weights = group.get("weights") or {}
        if weights.get("type") == "int" and not group.get("input_activations"):
            return _int(weights.get("num_bits"))
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _x86_cpu_without_avx512() -> bool:
    """vLLM's own test for which kernel library it loads (vllm/platforms/cpu.py: `import_kernels`)."""
    import torch
    from vllm.platforms import CpuArchEnum, current_platform

    if not current_platform.is_cpu() or current_platform.get_cpu_architecture() != CpuArchEnum.X86:
        return False
    avx512 = getattr(torch.cpu, "_is_avx512_supported", None)
    return avx512 is not None and not avx512()
