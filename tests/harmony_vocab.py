"""gpt-oss's `o200k_base.tiktoken` vocabulary for the harmony tests, offline.

openai-harmony downloads the vocabulary from OpenAI's blob storage, which this machine cannot reach.
The same ranks ship, MIT-licensed, in the npm package `tiktoken` (`encoders/o200k_base.json`); this
rebuilds the `.tiktoken` file from it and checks it against tiktoken's published SHA-256, so the file
is byte for byte the one openai-harmony would have fetched. Cached under the test cache.

    python tests/harmony_vocab.py     # prints the folder to put in TIKTOKEN_ENCODINGS_BASE
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tinymodel import test_cache

NPM_PACKAGE = "tiktoken@1.0.22"
SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken_ext's o200k_base
FILE = "o200k_base.tiktoken"


def harmony_vocab_dir() -> Path:
    """A folder holding a verified o200k_base.tiktoken: $TIKTOKEN_ENCODINGS_BASE, the cache, or npm."""
    if (env := os.environ.get("TIKTOKEN_ENCODINGS_BASE")) and (Path(env) / FILE).is_file():
        return Path(env)
    folder = test_cache() / "harmony-vocab"
    if not (folder / FILE).is_file():
        if shutil.which("npm") is None:
            raise RuntimeError("npm is not installed (needed to fetch the o200k_base ranks)")
        data = _ranks_from_npm()
        if hashlib.sha256(data).hexdigest() != SHA256:
            raise RuntimeError(f"the rebuilt {FILE} does not match tiktoken's SHA-256")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{FILE}.tmp").write_bytes(data)
        os.replace(folder / f"{FILE}.tmp", folder / FILE)
    return folder


def _ranks_from_npm() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True)
        tarball = next(Path(tmp).glob("tiktoken-*.tgz"))
        with tarfile.open(tarball) as tar:
            member = tar.extractfile("package/encoders/o200k_base.json")
            assert member is not None
            ranks = json.load(member)["bpe_ranks"]
    lines = []
    for row in ranks.split("\n"):  # "<name> <first rank> <base64 token> <base64 token> ..."
        if not row:
            continue
        _, first, *tokens = row.split(" ")
        lines.extend(f"{token} {int(first) + i}\n" for i, token in enumerate(tokens))
    return "".join(lines).encode()


if __name__ == "__main__":
    sys.stdout.write(f"{harmony_vocab_dir()}\n")
