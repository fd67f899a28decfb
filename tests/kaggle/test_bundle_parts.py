"""The bundle's parts that need no download: platform tags, the notebook, bad input."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from kaggle_files import write_config

from aimo.kaggle.bundle import BundleError, BundleSpec, build_bundle, linux_platforms
from aimo.kaggle.notebook import notebook_json, notebook_script


def test_a_glibc_admits_every_older_manylinux_tag_and_local_builds():
    tags = linux_platforms("2.35", "x86_64")
    assert tags[0] == "manylinux_2_35_x86_64" and tags[-1] == "linux_x86_64"
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert "manylinux_2_36_x86_64" not in tags


def test_the_notebook_installs_with_no_index_and_the_ipynb_holds_the_same_code():
    script = notebook_script(["aimo[kaggle]"], ["vllm"], "/kaggle/input/aimo-bundle")
    ast.parse(script)
    assert '"--no-index"' in script and "['aimo[kaggle]']" in script and "['vllm']" in script
    notebook = json.loads(notebook_json(script))
    assert notebook["nbformat"] == 4
    assert "".join(notebook["cells"][-1]["source"]) == script


def test_a_wheel_that_is_not_a_wheel_is_refused_before_any_download(tmp_path: Path):
    config = write_config(tmp_path / "run.toml", {"engine": {"model": "org/model"}})
    with pytest.raises(BundleError, match="not a wheel file"):
        build_bundle(BundleSpec(config=config, out=tmp_path / "b", wheels=(tmp_path / "llama.tar.gz",)))
