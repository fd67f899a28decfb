"""Shared fixtures of the solve tests: the shared data folder with recorded traces."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data(shared_data_dir: Path) -> Path:
    """The shared data folder; tests using it skip when it has no traces/."""
    if not (shared_data_dir / "traces").is_dir():
        pytest.skip(
            f"no traces/ in {shared_data_dir}: put the aimo shared data folder next to the repository "
            "as ../shared/data, or point AIMO_SHARED_DATA at it"
        )
    return shared_data_dir
