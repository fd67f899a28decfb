"""The Kaggle tests need polars (the `kaggle` extra)."""

import pytest

pytest.importorskip("polars", reason="the kaggle tests need polars: pip install -e '.[kaggle]'")
