"""Errors that reach the user as one clear line."""


class AimoError(Exception):
    """Base of errors whose message is shown to the user as is (no traceback)."""
