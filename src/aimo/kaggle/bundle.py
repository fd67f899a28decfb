"""`aimo kaggle bundle`: everything the offline notebook needs, as one folder to upload as a Kaggle dataset.

DIR/wheels/            aimo and its runtime dependencies, for the target interpreter and platform
DIR/run.toml           the run config
DIR/aimo_notebook.py   the notebook (and .ipynb): pip install --no-index from wheels/, then serve
DIR/bundle.json        what was bundled, for whom, and which engines the image must provide
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aimo
from aimo.config import RunConfig
from aimo.errors import AimoError
from aimo.kaggle.notebook import NOTEBOOK_FILE, NOTEBOOK_SCRIPT, notebook_json, notebook_script

# Kaggle's image today: CPython 3.11 on Ubuntu 22.04 (glibc 2.35).
KAGGLE_PYTHON = "3.11"
KAGGLE_GLIBC = "2.35"


def linux_platforms(glibc: str = KAGGLE_GLIBC, arch: str = "x86_64") -> tuple[str, ...]:
    """Every wheel platform tag a Linux with this glibc runs, newest first: pip takes a target's tags
    literally (`--platform manylinux_2_35_x86_64` admits no `manylinux_2_17` wheel), so all are named.
    `linux_<arch>` admits wheels built locally (e.g. llama-cpp-python, which PyPI has as source only)."""
    major, minor = (int(part) for part in glibc.split("."))
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {
        "manylinux_2_17": "manylinux2014",
        "manylinux_2_12": "manylinux2010",
        "manylinux_2_5": "manylinux1",
    }
    tags += [f"{old}_{arch}" for new, old in legacy.items() if f"{new}_{arch}" in tags]
    return (*tags, f"linux_{arch}")


# Engines that run in-process from a package the image provides rather than the bundle.
IMAGE_ENGINES = {"vllm": "vllm"}


class BundleError(AimoError):
    """A bundle that cannot be built (no source tree for aimo, a wheel pip cannot find)."""


@dataclass
class BundleSpec:
    """What to bundle and for which interpreter."""

    config: Path
    out: Path
    python_version: str = KAGGLE_PYTHON
    platforms: tuple[str, ...] = field(default_factory=linux_platforms)
    extras: tuple[str, ...] = ()  # aimo extras to bundle besides `kaggle`, e.g. "llamacpp"
    wheels: tuple[Path, ...] = ()  # local wheels to include (a built llama-cpp-python)
    find_links: tuple[Path, ...] = ()
    kaggle_dir: str = "/kaggle/input/aimo-bundle"
    source: Path | None = None  # aimo's source tree (default: the one this aimo is installed from)


@dataclass
class Bundle:
    """A built bundle: where it is, what its notebook installs, what the image must bring."""

    path: Path
    requirements: list[str]
    image_engines: list[str]
    wheels: list[str] = field(default_factory=list)
    local_paths: list[str] = field(default_factory=list)  # config paths that exist here, not on Kaggle


def local_paths(config: RunConfig) -> list[str]:
    """The config's paths that name files on this machine rather than under /kaggle (the bundle copies
    the config as it is, so on Kaggle they would be missing)."""
    named = {
        "engine.model": config.engine.model,
        "engine.chat_template": config.engine.chat_template,
        "budget.throughput": config.budget.throughput,
    }
    return [
        f"{key} = {value}"
        for key, value in named.items()
        if value and not value.startswith("/kaggle/") and Path(value).exists()
    ]


def aimo_source() -> Path:
    """The source tree aimo runs from (an editable install), which pip builds aimo's wheel from."""
    root = Path(aimo.__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise BundleError(f"aimo is not installed from a source tree ({root}); pass its source with --source")
    return root


def pip(*args: str) -> None:
    """Run pip in this interpreter; its last error line becomes a BundleError."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or ["(no output)"]
        raise BundleError(f"pip {args[0]} failed: {lines[-1].strip()}")


def build_bundle(spec: BundleSpec) -> Bundle:
    """Build the bundle folder `spec.out` (wheels, config, notebook, manifest)."""
    config = RunConfig.load(spec.config)
    wheels = spec.out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for wheel in spec.wheels:
        if not wheel.is_file() or wheel.suffix != ".whl":
            raise BundleError(f"not a wheel file: {wheel}")
        shutil.copy2(wheel, wheels / wheel.name)
    build_isolation = [] if importlib.util.find_spec("setuptools") else ["--no-build-isolation"]
    pip(
        "wheel",
        "--quiet",
        "--no-deps",
        *build_isolation,
        "-w",
        str(wheels),
        str(spec.source or aimo_source()),
    )
    aimo_wheel = max(wheels.glob("aimo-*.whl"), key=lambda p: p.stat().st_mtime)
    extras = ",".join(dict.fromkeys(("kaggle", *spec.extras)))
    platforms = [arg for platform in spec.platforms for arg in ("--platform", platform)]
    links = [arg for link in (wheels, *spec.find_links) for arg in ("--find-links", str(link))]
    pip(
        "download", "--quiet", "--only-binary", ":all:", "--python-version", spec.python_version,
        *platforms, *links, "-d", str(wheels), f"{aimo_wheel}[{extras}]",
    )  # fmt: skip
    shutil.copy2(spec.config, spec.out / "run.toml")
    engine = config.engine.engine if config.engine.engine != "auto" else _auto_engine(config)
    image_engines = [IMAGE_ENGINES[engine]] if engine in IMAGE_ENGINES else []
    requirements = [f"aimo[{extras}]"]
    script = notebook_script(requirements, image_engines, spec.kaggle_dir)
    (spec.out / NOTEBOOK_SCRIPT).write_text(script, encoding="utf-8")
    (spec.out / NOTEBOOK_FILE).write_text(notebook_json(script), encoding="utf-8")
    bundle = Bundle(
        spec.out,
        requirements,
        image_engines,
        sorted(p.name for p in wheels.glob("*.whl")),
        local_paths(config),
    )
    manifest = {
        "aimo": aimo.__version__,
        "python_version": spec.python_version,
        "platforms": list(spec.platforms),
        **{k: v for k, v in asdict(bundle).items() if k != "path"},
    }
    (spec.out / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return bundle


def _auto_engine(config: RunConfig) -> str:
    """The engine `auto` picks, judged from the model name alone (no model is fetched to decide)."""
    model = config.engine.model or ""
    if config.engine.base_urls or model.startswith(("http://", "https://")):
        return "openai"
    if model.endswith(".gguf") or not model:
        return "llamacpp"
    return "vllm"
