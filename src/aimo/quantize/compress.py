"""`aimo quantize MODEL --scheme …`: llm-compressor's `oneshot` on math calibration data.

The checkpoint is written to a temporary directory beside the output and moved into place only when
complete, so a failure never leaves a half-written model where a finished one is expected.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aimo.engines.base import Message
from aimo.models import Progress
from aimo.quantize.calibration import Calibration
from aimo.quantize.manifest import manifest_path, read_manifest, write_manifest
from aimo.quantize.schemes import QuantizeError, Scheme, build_recipe
from aimo.quantize.source import Source

INSTALL_HINT = "pip install 'aimo[quantize]' (torch first: pip install torch, the CPU or CUDA build you want)"


@dataclass(frozen=True)
class CompressRequest:
    source: Source
    scheme: Scheme
    calibration: Calibration
    output: Path
    kv_cache_fp8: bool = False
    max_seq_length: int = 2048


def require_llmcompressor() -> None:
    try:
        import llmcompressor  # noqa: F401
    except ImportError as exc:
        raise QuantizeError(
            f"--scheme needs llm-compressor ({exc.name} is missing): {INSTALL_HINT}"
        ) from None


def compress(request: CompressRequest, progress: Progress = print) -> Path:
    """Quantize the source model with the scheme's recipe; write the checkpoint and its manifest."""
    require_llmcompressor()
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if request.output.exists():
        raise QuantizeError(f"{request.output} exists; choose another --output or remove it")
    source = request.source
    progress(f"loading {source.path}")
    model = AutoModelForCausalLM.from_pretrained(source.path, dtype="auto")
    tokenizer = AutoTokenizer.from_pretrained(source.path)

    def render(messages: Sequence[Message], add_generation_prompt: bool) -> str:
        if not tokenizer.chat_template:  # a base model: the plain texts, one after the other
            return "\n\n".join(str(m["content"]) for m in messages)
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )

    texts = request.calibration.texts(render)
    progress(f"{request.scheme.name}: calibrating on {len(texts)} chats from {request.calibration.source}")
    with _no_pinning_without_accelerator():
        oneshot(
            model=model,
            tokenizer=tokenizer,
            dataset=_as_dataset(texts),
            recipe=build_recipe(request.scheme, request.kv_cache_fp8),
            max_seq_length=request.max_seq_length,
            num_calibration_samples=len(texts),
        )
    request.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{request.output.name}.", dir=request.output.parent))
    try:
        model.save_pretrained(tmp, save_compressed=True)
        tokenizer.save_pretrained(tmp)
        _copy_generation_config(source.path, tmp)
        write_manifest(
            tmp,
            {
                "source": source.describe(),
                "scheme": request.scheme.name,
                "preset": request.scheme.preset,
                "algorithm": request.scheme.algorithm,
                "kv_cache_fp8": request.kv_cache_fp8,
                "calibration": {**request.calibration.describe(), "max_seq_length": request.max_seq_length},
                "format": "compressed-tensors",
                "engine_flags": engine_flags(request.kv_cache_fp8),
            },
            ("llmcompressor", "compressed-tensors", "transformers", "torch"),
        )
        tmp.chmod(0o755)  # mkdtemp makes it private
        tmp.rename(request.output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return request.output


def earlier_checkpoint(output: Path, source: Source, scheme: Scheme, kv_cache_fp8: bool) -> Path:
    """`output` as an earlier `aimo quantize` wrote it from the same model, scheme and KV-cache choice
    (its manifest says so), to check it again; anything else there is refused, never replaced."""
    if not manifest_path(output).is_file():
        raise QuantizeError(f"{output} exists and is no aimo quantize checkpoint; choose another --output")
    try:
        made = read_manifest(output)
    except ValueError as exc:
        raise QuantizeError(f"{output}: unreadable {manifest_path(output).name} ({exc})") from None
    wanted = {
        "scheme": scheme.name,
        "kv_cache_fp8": kv_cache_fp8,
        "config_sha256": source.config_sha256,
        "commit": source.commit,
    }
    found = {
        "scheme": made.get("scheme"),
        "kv_cache_fp8": made.get("kv_cache_fp8"),
        "config_sha256": made.get("source", {}).get("config_sha256"),
        "commit": made.get("source", {}).get("commit"),
    }
    differ = [name for name in wanted if wanted[name] != found[name]]
    if differ:
        raise QuantizeError(
            f"{output} exists but was made differently "
            f"({', '.join(f'{n}: {found[n]} there, {wanted[n]} here' for n in differ)}); "
            "choose another --output or remove it"
        )
    return output


def engine_flags(kv_cache_fp8: bool) -> list[str]:
    """The vLLM flags that use what the checkpoint holds (the quantization itself is read from it)."""
    return ["--kv-cache-dtype", "fp8"] if kv_cache_fp8 else []


@contextlib.contextmanager
def _no_pinning_without_accelerator() -> Iterator[None]:
    """llm-compressor's AWQ pins cached activations for faster GPU transfers, which raises on a
    CPU-only torch ("Cannot access accelerator device"); pinning buys nothing there, so skip it."""
    import torch
    from llmcompressor.pipelines.cache import IntermediatesCache

    if torch.accelerator.is_available():
        yield
        return
    original = IntermediatesCache.pin_memory
    IntermediatesCache.pin_memory = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        IntermediatesCache.pin_memory = original  # type: ignore[method-assign]


def _as_dataset(texts: list[str]):
    from datasets import Dataset

    return Dataset.from_dict({"text": texts})


def _copy_generation_config(src: Path, dst: Path) -> None:
    """The stop tokens live in generation_config.json; keep the original's rather than a regenerated one."""
    if (src / "generation_config.json").is_file():
        shutil.copy(src / "generation_config.json", dst / "generation_config.json")
