"""`aimo.solve`'s public surface: what `__all__` names exists, and the module's example runs."""

from __future__ import annotations

import doctest

import aimo.solve


def test_every_public_name_exists():
    assert all(hasattr(aimo.solve, name) for name in aimo.solve.__all__)


def test_the_replay_example_in_the_docstring_runs():
    failures, tried = doctest.testmod(aimo.solve, verbose=False)
    assert tried > 0 and failures == 0
