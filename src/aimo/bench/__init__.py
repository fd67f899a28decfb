"""Benchmarks: engines, the harness, the sandbox and answer extraction, all in one result shape."""
