"""The shared sandbox fixture (helpers live in sandbox_helpers.py)."""

from collections.abc import Iterator

import pytest
from sandbox_helpers import SHARED_CONFIG, SharedSandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SharedSandbox]:
    """One started Sandbox for every test that needs no configuration of its own."""
    shared = SharedSandbox(SHARED_CONFIG)
    yield shared
    shared.close()
