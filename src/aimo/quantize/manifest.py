"""The small JSON file written next to every quantized model: what went in and how it was made."""

from __future__ import annotations

import json
import platform
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

MANIFEST_SCHEMA = 1
MANIFEST_NAME = "aimo-quantize.json"


def manifest_path(output: Path) -> Path:
    """Inside a checkpoint directory, or beside a file: `m.gguf` → `m.gguf.aimo-quantize.json`."""
    if output.is_dir():
        return output / MANIFEST_NAME
    return output.with_name(f"{output.name}.{MANIFEST_NAME}")


def package_versions(*names: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def write_manifest(output: Path, fields: dict[str, Any], packages: tuple[str, ...]) -> Path:
    """Write the manifest of `output` (fields + schema, time, aimo's and `packages`' versions)."""
    record = {
        "schema": MANIFEST_SCHEMA,
        "kind": "aimo-quantize",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **fields,
        "versions": {"python": platform.python_version(), **package_versions("aimo", *packages)},
    }
    path = manifest_path(output)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(output: Path) -> dict[str, Any]:
    return json.loads(manifest_path(output).read_text(encoding="utf-8"))
