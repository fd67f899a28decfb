"""Run in the vLLM environment: load a model directory with vLLM (CPU) and greedy-decode a few prompts.

    python vllm_generate.py MODEL_DIR OUT.json [--kv-cache-dtype fp8]

Writes {"ok": true, "texts": [...]} or {"ok": false, "error": "..."} to OUT.json, and under "gap"
what aimo says vLLM's CPU build cannot run here (None when nothing), asked before vLLM tries anyway.
"""

from __future__ import annotations

import json
import sys
import traceback

PROMPTS = ["What is 6 times 7?", "Compute 2 + 2.", "The sum of the angles of a triangle is"]


def main(model: str, out: str, kv_cache_dtype: str = "auto") -> None:
    from aimo.engines.vllm_cpu import cpu_gap

    gap = cpu_gap(model, {"kv_cache_dtype": kv_cache_dtype})
    try:
        from vllm import LLM, SamplingParams

        llm = LLM(
            model,
            max_model_len=1024,
            kv_cache_memory_bytes=64 * 2**20,
            enforce_eager=True,
            kv_cache_dtype=kv_cache_dtype,
        )
        outputs = llm.generate(PROMPTS, SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True))
        record = {
            "ok": True,
            "texts": [o.outputs[0].text for o in outputs],
            "tokens": [len(o.outputs[0].token_ids) for o in outputs],
        }
    except Exception as exc:
        record = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}"[:2000],
            "trace": traceback.format_exc()[-3000:],
        }
    with open(out, "w") as f:
        json.dump({**record, "gap": gap}, f)


if __name__ == "__main__":
    args = sys.argv[1:]
    kv = args[args.index("--kv-cache-dtype") + 1] if "--kv-cache-dtype" in args else "auto"
    main(args[0], args[1], kv)
