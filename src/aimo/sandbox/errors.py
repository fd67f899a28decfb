"""The sandbox's own error type."""


class SandboxError(Exception):
    """The sandbox itself failed (could not start, or was used after close); user code never raises it."""
