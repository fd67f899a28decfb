"""The Kaggle competition: aimo's `predict`, `serve`, a compatible local gateway, the offline bundle.

    >>> from aimo.kaggle import make_predict, run_gateway               # doctest: +SKIP
    >>> predict = make_predict("run.toml")      # the engine starts loading in the background
    >>> report = run_gateway(predict, "aimo2_reference.csv")            # doctest: +SKIP

Modules: `config` (the `[kaggle]` table), `answer` (votes → the integer submitted), `predictor`
(`make_predict`), `gateway` (the local gateway and its scoring), `server` (`serve`: the notebook's body),
`bundle` and `notebook` (the offline Kaggle dataset). polars (the `kaggle` extra) is imported
only where frames are made.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names load lazily: `aimo.config` imports `aimo.kaggle.config`, and the modules below import it back.
_EXPORTS = {
    "KaggleConfig": "aimo.kaggle.config",
    "submitted_answer": "aimo.kaggle.answer",
    "Predictor": "aimo.kaggle.predictor",
    "make_predict": "aimo.kaggle.predictor",
    "GatewayError": "aimo.kaggle.gateway",
    "GatewayReport": "aimo.kaggle.gateway",
    "run_gateway": "aimo.kaggle.gateway",
    "serve": "aimo.kaggle.server",
    "BundleSpec": "aimo.kaggle.bundle",
    "build_bundle": "aimo.kaggle.bundle",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'aimo.kaggle' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
