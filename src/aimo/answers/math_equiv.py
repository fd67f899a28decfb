"""Equivalence of MATH-style answers: exact numbers here, everything else Math-Verify, bounded.

Math-Verify's timeouts use `signal.alarm`, which fails outside the main thread (and aimo grades
off the event loop, in threads). So Math-Verify runs in a child process with its timeouts off,
and the parent enforces a wall-clock deadline per comparison by killing the child, which a
fresh one replaces on the next call. A comparison that times out is reported as None. After the
first timeout a spare child is kept starting, so that a run of hostile comparisons costs about the
deadline each, not the deadline plus Math-Verify's start.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path

import sympy

_WORKER = Path(__file__).with_name("_mv_worker.py")


def numbers_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Exact equality of two exact numbers: rationals exactly; others to 60 significant digits of
    the larger, so that `1/2004!` and `1/2006!` (both 0 as floats) stay apart."""
    if a.is_Rational and b.is_Rational:
        return bool(a == b)
    if a == b:
        return True
    scale = max(abs(sympy.N(a, 20)), abs(sympy.N(b, 20)))
    if scale == 0:
        return False  # both evaluate to 0 but are not structurally equal: a float could not tell
    difference = sympy.N(a - b, 60)
    return bool(abs(difference) <= scale * sympy.Float("1e-45", 60))


class MathVerifier:
    """A Math-Verify child process with a per-comparison deadline; safe to share between threads."""

    def __init__(self, timeout_s: float = 5.0, startup_timeout_s: float = 120.0) -> None:
        self.timeout_s = timeout_s
        self.startup_timeout_s = startup_timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._spare: subprocess.Popen[bytes] | None = None  # started after the first timeout
        self._buffer = b""
        self._cache: dict[tuple[str, str], bool] = {}

    def equivalent(self, gold: str, pred: str) -> bool | None:
        """Whether Math-Verify shows `pred` equal to `gold`; None if it ran past the deadline."""
        key = (gold, pred)
        if key in self._cache:
            return self._cache[key]
        with self._lock:
            request = (json.dumps({"gold": gold, "pred": pred}) + "\n").encode()
            try:
                self._send(request)
            except OSError:  # the child died since the last call: one fresh start
                self._kill()
                self._send(request)
            reply = self._read_line(self.timeout_s)
        if reply is None:
            return None
        result = bool(reply.get("equal"))
        if len(self._cache) < 100_000:
            self._cache[key] = result
        return result

    def close(self) -> None:
        """Stop the child processes (a later call starts a new one)."""
        with self._lock:
            self._kill()
            _stop(self._spare)
            self._spare = None

    def _send(self, request: bytes) -> None:
        proc = self._ensure_started()
        assert proc.stdin is not None
        proc.stdin.write(request)
        proc.stdin.flush()

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        spare, self._spare = self._spare, None
        had_timeout = spare is not None
        self._proc = spare if spare is not None and spare.poll() is None else _start_worker()
        self._buffer = b""
        if self._read_line(self.startup_timeout_s) is None:
            raise RuntimeError("the Math-Verify worker did not start")
        if had_timeout:
            self._spare = _start_worker()  # ready for the next timeout
        return self._proc

    def _read_line(self, timeout_s: float) -> dict[str, object] | None:
        """One JSON line from the child within `timeout_s`; on timeout or death, kill it and give None."""
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        fd = self._proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self._kill()
                    if self._spare is None:
                        self._spare = _start_worker()
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    self._kill()
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _kill(self) -> None:
        _stop(self._proc)
        self._proc = None


def _start_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(_WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


_default: MathVerifier | None = None
_default_lock = threading.Lock()


def default_verifier() -> MathVerifier:
    """The process-wide verifier, started on first use and stopped at exit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MathVerifier()
            atexit.register(_default.close)
        return _default
