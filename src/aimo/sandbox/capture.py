"""Harness side of a session's output: its stdout and stderr pipes, read on the event loop.

Only the harness holds the read ends, so what a cell printed is kept (head and tail, within the
limit) whatever the session process does, even while the cell holds the GIL in C code. While a cell
floods its output the pipes are read at most every READ_PAUSE_S, one chunk each, so that many sessions
share the harness's reading fairly and small writes are batched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios
from dataclasses import dataclass

from aimo.sandbox.output import HeadTail

READ_PAUSE_S = 0.001
CHUNK = 1 << 16
PIPE_SIZE = 1 << 18


@dataclass(frozen=True)
class Output:
    """What a call printed, each stream cut in the middle to the limit."""

    stdout: str = ""
    stderr: str = ""
    truncated: bool = False


class OutputCapture:
    """Reads the read ends of a session's stdout and stderr pipes (owned, closed by `close`)."""

    def __init__(self, out_r: int, err_r: int, limit: int) -> None:
        self._out_r, self._err_r = out_r, err_r
        self._streams = {out_r: HeadTail(limit), err_r: HeadTail(limit)}
        self._open = {out_r, err_r}
        self._watching = False
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False
        for fd in self._open:
            os.set_blocking(fd, False)
            with contextlib.suppress(OSError):  # a bigger pipe lets a printing cell run on while we pause
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)

    def start(self) -> None:
        """Read as output comes (during a call)."""
        if self._closed or self._watching:
            return
        loop = asyncio.get_running_loop()
        for fd in self._open:
            loop.add_reader(fd, self._on_readable, fd)
        self._watching = True

    def stop(self) -> None:
        """Stop reading (between calls a flooding process blocks on its full pipe)."""
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        self._unwatch()

    def take(self) -> Output:
        """What is in the pipes now and what was read since the last `take`; then start empty."""
        if not self._closed:
            for fd in list(self._open):
                self._drain(fd)
        stdout, cut_out = self._streams[self._out_r].take()
        stderr, cut_err = self._streams[self._err_r].take()
        return Output(stdout, stderr, cut_out or cut_err)

    def close(self) -> None:
        if self._closed:
            return
        self.stop()
        self._closed = True
        os.close(self._out_r)
        os.close(self._err_r)

    def _unwatch(self) -> None:
        if self._watching:
            loop = asyncio.get_running_loop()
            for fd in self._open:
                loop.remove_reader(fd)
            self._watching = False

    def _on_readable(self, fd: int) -> None:
        self._read(fd)
        self._unwatch()
        self._resume = asyncio.get_running_loop().call_later(READ_PAUSE_S, self._resume_reading)

    def _resume_reading(self) -> None:
        self._resume = None
        self.start()

    def _read(self, fd: int, size: int = CHUNK) -> int:
        """Read up to `size` bytes of `fd`; how many were read (0 at EOF, which closes the stream)."""
        try:
            data = os.read(fd, size)
        except BlockingIOError:
            return -1
        if not data:
            if self._watching:
                asyncio.get_running_loop().remove_reader(fd)
            self._open.discard(fd)
        self._streams[fd].feed(data)
        return len(data)

    def _drain(self, fd: int) -> None:
        # Only what is in the pipe now: a grandchild printing forever must not keep us here.
        waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        while waiting > 0:
            got = self._read(fd, min(waiting, CHUNK))
            if got <= 0:
                return
            waiting -= got
