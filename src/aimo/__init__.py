"""aimo: solve competition mathematics with open-weight language models under a time budget."""

__version__ = "0.1.0"
