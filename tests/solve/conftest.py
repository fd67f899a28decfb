"""Shared fixtures of the solve tests: the shared data folder with recorded traces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _shared_data_dir() -> Path:
    env = os.environ.get("AIMO_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests using it skip when it is absent."""
    path = _shared_data_dir()
    if not (path / "traces").is_dir():
        pytest.skip(
            f"shared data not found at {path}: put the aimo shared data folder (with traces/) next to "
            "the repository as ../shared/data, or point AIMO_SHARED_DATA at it"
        )
    return path
