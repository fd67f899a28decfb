"""`aimo quantize MODEL --to gguf:TYPE`: llama.cpp's own converter, then llama.cpp's quantizer.

The converter (`convert_hf_to_gguf.py` with its `conversion/` package and `gguf-py/`) is a script of
the llama.cpp source tree, not part of any wheel. aimo looks for it, in order, at:

1. `--converter PATH` (the script, or a llama.cpp checkout holding it);
2. `$AIMO_GGUF_CONVERTER` (the same);
3. `<aimo cache>/llama.cpp-<llama-cpp-python version>/`, filled by `aimo quantize --fetch-converter`,
   which takes the copy vendored in llama-cpp-python's source distribution on PyPI — the llama.cpp
   that the installed `llama_cpp` was built from, so converter and runtime agree on the format.

Types the converter writes itself (F32, F16, BF16, Q8_0) are converted directly; every other type
(Q4_K_M, Q5_K_M, Q6_K, Q4_0, …) is converted to F16 first and quantized by `llama_model_quantize`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from aimo.models import Progress, cache_dir
from aimo.quantize.manifest import write_manifest
from aimo.quantize.schemes import QuantizeError
from aimo.quantize.source import Source

CONVERTER = "convert_hf_to_gguf.py"
CONVERTER_PARTS = (CONVERTER, "conversion", "gguf-py")  # what the script imports from beside itself
CONVERTER_ENV = "AIMO_GGUF_CONVERTER"
CONVERTER_TYPES = {"F32": "f32", "F16": "f16", "BF16": "bf16", "Q8_0": "q8_0"}
FETCH_HINT = (
    "run `aimo quantize --fetch-converter` (llama-cpp-python's source from PyPI) or pass --converter PATH"
)


@dataclass(frozen=True)
class GGUFRequest:
    source: Source
    gguf_type: str  # e.g. Q4_K_M, F16
    output: Path
    converter: Path | None = None
    keep_f16: Path | None = None  # also keep the unquantized F16 conversion here (the --check baseline)


def parse_gguf_target(spec: str) -> str:
    """`gguf:Q4_K_M` → `Q4_K_M` (checked against llama.cpp's types)."""
    kind, _, gguf_type = spec.partition(":")
    if kind != "gguf" or not gguf_type:
        raise QuantizeError(f"--to {spec!r}: expected gguf:TYPE, e.g. gguf:Q4_K_M or gguf:F16")
    gguf_type = gguf_type.upper()
    if gguf_type not in CONVERTER_TYPES:
        _llama_ftype(gguf_type)
    return gguf_type


def converter_cache() -> Path:
    return cache_dir().parent / f"llama.cpp-{_llama_cpp_version()}"


def find_converter(explicit: Path | None = None) -> Path:
    """The converter script: `explicit`, else $AIMO_GGUF_CONVERTER, else the fetched copy in the cache."""
    given = explicit or (Path(os.environ[CONVERTER_ENV]) if os.environ.get(CONVERTER_ENV) else None)
    if given is not None:
        script = given / CONVERTER if given.is_dir() else given
        if not script.is_file():
            raise QuantizeError(f"llama.cpp's {CONVERTER} not found at {given}")
        return script
    script = converter_cache() / CONVERTER
    if not script.is_file():
        raise QuantizeError(f"llama.cpp's {CONVERTER} not found (looked in {script.parent}): {FETCH_HINT}")
    return script


def fetch_converter(progress: Progress = print) -> Path:
    """Extract the converter from llama-cpp-python's sdist (the installed version) into the cache."""
    release = _llama_cpp_version()
    target = converter_cache()
    if (target / CONVERTER).is_file():
        return target / CONVERTER
    progress(f"downloading llama-cpp-python {release}'s source distribution from PyPI for {CONVERTER}")
    with tempfile.TemporaryDirectory() as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        done = subprocess.run(
            [*pip, "-d", tmp, f"llama-cpp-python=={release}"], capture_output=True, text=True
        )
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            why = (done.stderr.strip().splitlines() or ["no sdist downloaded"])[-1]
            raise QuantizeError(f"could not download llama-cpp-python=={release}'s source: {why}")
        staging = Path(tmp) / "out"
        prefix = f"llama_cpp_python-{release}/vendor/llama.cpp/"
        with tarfile.open(sdists[0]) as tar:
            members = [
                m for m in tar.getmembers() if m.name.startswith(prefix) and _wanted(m.name[len(prefix) :])
            ]
            for member in members:
                member.name = member.name[len(prefix) :]
            tar.extractall(staging, members=members, filter="data")
        if not (staging / CONVERTER).is_file():
            raise QuantizeError(f"llama-cpp-python {release}'s source has no vendor/llama.cpp/{CONVERTER}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(staging, target)
    return target / CONVERTER


def _wanted(relative: str) -> bool:
    return any(relative == part or relative.startswith(part + "/") for part in CONVERTER_PARTS)


def convert(request: GGUFRequest, progress: Progress = print) -> Path:
    """HF model directory → GGUF of `gguf_type`, plus its manifest; nothing is left half-written."""
    script = find_converter(request.converter)
    if request.output.exists():
        raise QuantizeError(f"{request.output} exists; choose another --output or remove it")
    request.output.parent.mkdir(parents=True, exist_ok=True)
    direct = CONVERTER_TYPES.get(request.gguf_type)
    with tempfile.TemporaryDirectory(prefix=".aimo-gguf-", dir=request.output.parent) as tmp:
        converted = Path(tmp) / ("out.gguf" if direct else "f16.gguf")
        run_converter(script, request.source.path, converted, direct or "f16", progress)
        if direct is None:
            quantized = Path(tmp) / "out.gguf"
            progress(f"quantizing to {request.gguf_type} with llama.cpp")
            quantize_gguf(converted, quantized, request.gguf_type)
            if request.keep_f16 is not None:
                shutil.move(converted, request.keep_f16)
            converted = quantized
        elif request.keep_f16 is not None:
            shutil.copy(converted, request.keep_f16)
        os.replace(converted, request.output)
    write_manifest(
        request.output,
        {
            "source": request.source.describe(),
            "format": "gguf",
            "gguf_type": request.gguf_type,
            "converter": str(script),
            "engine_flags": ["--engine", "llamacpp"],
        },
        ("llama_cpp_python", "gguf", "transformers", "torch"),
    )
    return request.output


def run_converter(script: Path, model_dir: Path, out: Path, outtype: str, progress: Progress) -> None:
    """Run llama.cpp's converter in this interpreter (it needs torch, transformers and numpy)."""
    progress(f"converting {model_dir} to GGUF ({outtype}) with {script}")
    cmd = [sys.executable, str(script), str(model_dir), "--outfile", str(out), "--outtype", outtype]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise QuantizeError(f"{CONVERTER} failed (exit {done.returncode}): {tail}")


def quantize_gguf(src: Path, dst: Path, gguf_type: str, threads: int | None = None) -> None:
    """llama.cpp's quantizer (`llama_model_quantize`) from an F16/BF16/F32 GGUF to `gguf_type`."""
    llama_cpp = _import_llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = _llama_ftype(gguf_type)
    params.nthread = threads or os.cpu_count() or 1
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if status != 0 or not dst.is_file():
        raise QuantizeError(f"llama.cpp could not quantize {src} to {gguf_type} (status {status})")


def _llama_ftype(gguf_type: str) -> int:
    llama_cpp = _import_llama_cpp()
    value = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{gguf_type}", None)
    if value is None:
        known = sorted(
            n.removeprefix("LLAMA_FTYPE_MOSTLY_")
            for n in dir(llama_cpp)
            if n.startswith("LLAMA_FTYPE_MOSTLY_")
        )
        raise QuantizeError(f"unknown GGUF type {gguf_type!r}: one of {', '.join(known)}")
    return int(value)


def _import_llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise QuantizeError("--to gguf needs llama-cpp-python: pip install 'aimo[llamacpp]'") from None
    return llama_cpp


def _llama_cpp_version() -> str:
    try:
        return version("llama_cpp_python")
    except PackageNotFoundError:
        raise QuantizeError("--to gguf needs llama-cpp-python: pip install 'aimo[llamacpp]'") from None
