"""Quantization: llm-compressor schemes for vLLM, GGUF for llama.cpp, and before/after checks.

    >>> from aimo.quantize import SCHEMES, CompressRequest, compress, load_calibration, resolve_source
    >>> request = CompressRequest(resolve_source("org/model", "main"), SCHEMES["w4a16-awq"],
    ...                           load_calibration("math500", 256), Path("model-awq"))  # doctest: +SKIP
    >>> compress(request)                                                             # doctest: +SKIP

Modules: `schemes` (what each --scheme runs), `calibration` (math chats from a problem set or an eval
run), `source` (the pinned model), `compress` (llm-compressor's oneshot), `gguf` (llama.cpp's converter
and quantizer), `manifest` (the JSON beside each output), `check` (original vs quantized, one run).
Heavy packages are imported only when a function needs them.
"""

from aimo.quantize.calibration import Calibration, load_calibration
from aimo.quantize.compress import CompressRequest, compress
from aimo.quantize.gguf import GGUFRequest, convert, fetch_converter, find_converter
from aimo.quantize.manifest import manifest_path, read_manifest
from aimo.quantize.schemes import SCHEMES, QuantizeError, Scheme, get_scheme
from aimo.quantize.source import Source, resolve_source

__all__ = [
    "SCHEMES",
    "Calibration",
    "CompressRequest",
    "GGUFRequest",
    "QuantizeError",
    "Scheme",
    "Source",
    "compress",
    "convert",
    "fetch_converter",
    "find_converter",
    "get_scheme",
    "load_calibration",
    "manifest_path",
    "read_manifest",
    "resolve_source",
]
