"""The Kaggle notebook of a bundle: install aimo from the bundle's wheels with no index, then serve."""

from __future__ import annotations

import json

NOTEBOOK_SCRIPT = "aimo_notebook.py"
NOTEBOOK_FILE = "aimo_notebook.ipynb"

_TEMPLATE = '''\
"""aimo on Kaggle: install aimo offline from this bundle, then serve the competition.

Attach the bundle as a dataset (it lands in {kaggle_dir}); set AIMO_BUNDLE_DIR if it lies elsewhere.
Off Kaggle, AIMO_KAGGLE_TEST_CSV names the problems the local gateway feeds.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys


def bundle_dir() -> pathlib.Path:
    if os.environ.get("AIMO_BUNDLE_DIR"):
        return pathlib.Path(os.environ["AIMO_BUNDLE_DIR"])
    if "__file__" in globals():  # run as a script: the bundle is this file's folder
        return pathlib.Path(__file__).resolve().parent
    return pathlib.Path({kaggle_dir!r})


BUNDLE = bundle_dir()
REQUIREMENTS = {requirements!r}
# Engines the run uses that the bundle does not carry: they must come with Kaggle's image.
ENGINE_MODULES = {engine_modules!r}

subprocess.run(
    [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(BUNDLE / "wheels"),
     *REQUIREMENTS],
    check=True,
)
importlib.invalidate_caches()
for module in ENGINE_MODULES:
    if importlib.util.find_spec(module) is None:
        raise SystemExit(f"aimo: the engine module {{module!r}} is not installed in this image")

from aimo.kaggle import serve  # noqa: E402

serve(BUNDLE / "run.toml", test_csv=os.environ.get("AIMO_KAGGLE_TEST_CSV"))
'''


def notebook_script(requirements: list[str], engine_modules: list[str], kaggle_dir: str) -> str:
    """The notebook's Python source for a bundle found at `kaggle_dir` on Kaggle."""
    return _TEMPLATE.format(requirements=requirements, engine_modules=engine_modules, kaggle_dir=kaggle_dir)


def notebook_json(script: str) -> str:
    """The same script as a one-cell Jupyter notebook (nbformat 4)."""
    lines = script.splitlines(keepends=True)
    notebook = {
        "cells": [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": ["# aimo: the competition's inference server\n", "Built by `aimo kaggle bundle`."],
            },
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": lines},
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1) + "\n"
