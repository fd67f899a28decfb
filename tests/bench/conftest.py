"""Helpers for the benchmark and doctor tests: run the `aimo` command as a user would."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def aimo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m aimo ARGS` in a subprocess, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "aimo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


@pytest.fixture
def run_aimo():
    return aimo
