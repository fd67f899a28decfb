"""The model to quantize, pinned: a local directory, or a hub id at a fixed revision (commit)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from aimo.models import ModelError, resolve_model
from aimo.quantize.schemes import QuantizeError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Source:
    """Where the weights were read from, and what pins them (recorded in the manifest)."""

    spec: str  # what the user gave
    path: Path  # the local model directory
    revision: str | None  # the revision asked for (hub ids)
    commit: str | None  # the commit it resolved to (hub ids)
    config_sha256: str  # of config.json: tells two local copies apart

    def describe(self) -> dict[str, object]:
        return {
            "model": self.spec,
            "path": str(self.path),
            "revision": self.revision,
            "commit": self.commit,
            "config_sha256": self.config_sha256,
        }


def resolve_source(spec: str, revision: str | None = None) -> Source:
    """A Hugging Face model directory for `spec`; hub ids are fetched at `revision` (default: main)."""
    path = Path(spec).expanduser()
    if path.exists():
        if revision is not None:
            raise QuantizeError(f"--revision pins a hub model; {spec} is a local path")
        try:
            model = resolve_model(str(path))
        except ModelError as exc:
            raise QuantizeError(str(exc)) from None
        if model.kind != "hf_dir":
            raise QuantizeError(f"{spec} is a GGUF file; quantize the Hugging Face model it came from")
        return _source(spec, Path(model.location), None, None)
    if not _HUB_ID.match(spec):
        raise QuantizeError(f"model not found: {spec} (give a model directory or a hub id org/name)")
    local, commit = _fetch_hub(spec, revision)
    return _source(spec, local, revision or "main", commit)


def _source(spec: str, path: Path, revision: str | None, commit: str | None) -> Source:
    digest = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
    return Source(spec, path, revision, commit, digest)


def _fetch_hub(repo_id: str, revision: str | None) -> tuple[Path, str]:
    """Download (or find in the HF cache) the snapshot of `repo_id` at `revision`; its commit hash."""
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(repo_id, revision=revision, etag_timeout=10))
    except Exception as exc:  # the hub client raises many types; all mean "not available here"
        at = f" at revision {revision}" if revision else ""
        raise QuantizeError(
            f"could not get {repo_id!r}{at} from the Hugging Face hub ({type(exc).__name__}); "
            f"download it where there is internet (`huggingface-cli download {repo_id}"
            f"{' --revision ' + revision if revision else ''}`) and pass the local directory"
        ) from None
    return local, local.name  # snapshots/<commit hash>
