"""The session process: isolates itself, then runs code blocks in one namespace, like notebook cells.

It is forked from the template (`zygote`) with the preloaded modules already in memory, so nothing is
imported at start. Two threads: the main thread runs user code and nothing else; an I/O thread owns
the socket to the harness and drains the stdout/stderr pipes into bounded head/tail buffers. Output
goes through real pipes (fd 1 and 2), so prints of child processes and C code are captured too, and
what was printed before a timeout can still be sent back while the main thread is stuck.

Messages (see `protocol`): harness -> session {"op": "run", "seq", "code", "cpu_s"} and
{"op": "flush", "seq"}; session -> harness {"op": "ready"}, {"op": "result", "seq", ...},
{"op": "partial", "seq", ...} and {"op": "fatal", "error"} when setting up failed.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import fcntl
import io
import linecache
import os
import queue
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time
import traceback
import types
from dataclasses import dataclass
from types import FrameType
from typing import Any, NoReturn

from aimo.sandbox import limits
from aimo.sandbox.output import HeadTail, trim_middle
from aimo.sandbox.protocol import FrameDecoder, ProtocolError, clean_text, send_frame

CELL_PREFIX = "<cell "
EXIT_SETUP_FAILED = 71
EXIT_IO_FAILED = 72
# Reading output pipes at most this often batches many small writes into one read.
READ_PAUSE_S = 0.001
PIPE_SIZE = 1 << 18


@dataclass(frozen=True)
class SessionSpec:
    """Everything a session process needs to set itself up (decided by the template)."""

    uid: int
    isolation: limits.Isolation
    limits: limits.ProcessLimits
    disk_bytes: int
    host_workdir: str | None
    output_limit: int
    int_max_str_digits: int


def serve(sock: socket.socket, spec: SessionSpec) -> NoReturn:
    """Entry point of a freshly forked session process; never returns."""
    try:
        process = _SessionProcess(sock, spec)
    except BaseException as exc:
        try:
            send_frame(sock, {"op": "fatal", "error": clean_text(f"{type(exc).__name__}: {exc}")})
        finally:
            os._exit(EXIT_SETUP_FAILED)
    process.loop()


class _SessionProcess:
    def __init__(self, sock: socket.socket, spec: SessionSpec) -> None:
        self._spec = spec
        os.setsid()
        limits.enter_namespaces(spec.isolation)
        uid = spec.uid if spec.isolation.setuid else os.getuid()
        if spec.isolation.mount_namespace:
            workdir = limits.mount_private_tmp(
                uid, uid if spec.isolation.setuid else os.getgid(), spec.disk_bytes
            )
        else:
            workdir = spec.host_workdir or os.getcwd()
        os.chdir(workdir)
        limits.apply_rlimits(spec.limits, own_uid=spec.isolation.setuid)
        if spec.isolation.setuid:
            limits.drop_privileges(spec.uid)
        # Set after the uid change, which clears it: die with the supervisor, whatever kills it.
        limits.prctl(limits.PR_SET_PDEATHSIG, signal.SIGKILL)
        self._pid = os.getpid()
        os.environ.update(HOME=workdir, TMPDIR=workdir, PWD=workdir)

        devnull = os.open(os.devnull, os.O_RDWR)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self._std_sources = ((devnull, 0), (out_w, 1), (err_w, 2))
        self._io = _IOThread(sock, out_r, err_r, spec.output_limit)
        limits.close_fds_except({0, 1, 2, sock.fileno(), devnull, out_r, out_w, err_r, err_w, *self._io.fds})
        self._stdio: tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper] | None = None
        self._restore_stdio()

        sys.argv = [""]
        sys.dont_write_bytecode = True
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(spec.int_max_str_digits)
        # A real __main__ module, as in a notebook, so that pickle (multiprocessing) finds its functions.
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        self._namespace: dict[str, Any] = main.__dict__
        self._cell = 0
        self._in_call = False
        self._cpu_exceeded = False
        self._cpu_s = 0.0
        signal.signal(signal.SIGXCPU, self._on_cpu_limit)
        self._io.start()
        if spec.limits.memory_bytes is not None:
            # Last, so the limit counts from what the interpreter and the I/O thread already use.
            limits.limit_address_space(spec.limits.memory_bytes)
        self._io.send({"op": "ready", "workdir": workdir})

    def loop(self) -> NoReturn:
        """Run requests from the harness forever (the process ends when the harness closes)."""
        while True:
            request = self._io.requests.get()
            outcome = self._execute(str(request.get("code", "")), float(request.get("cpu_s") or 0))
            self._io.finish({"seq": request.get("seq"), **outcome})

    def _on_cpu_limit(self, signum: int, frame: FrameType | None) -> None:
        if self._in_call:  # raised again every second while a cell swallows it and keeps going
            self._cpu_exceeded = True
            raise TimeoutError(f"CPU time limit of {self._cpu_s:g} s exceeded")

    def _restore_stdio(self) -> None:
        """Point fds 0-2 and sys.std* back at the session's pipes, whatever the last cell did to them."""
        for source, target in self._std_sources:
            os.dup2(source, target)
        if self._stdio is None or any(stream.closed for stream in self._stdio):
            self._stdio = (
                io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8"),
                _text_writer(1),
                _text_writer(2),
            )
        sys.stdin, sys.stdout, sys.stderr = self._stdio

    def _flush_stdio(self) -> None:
        assert self._stdio is not None
        for stream in self._stdio[1:]:
            # The cell may have closed or broken the stream; its next cell gets a fresh one.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()

    def _execute(self, code: str, cpu_s: float) -> dict[str, Any]:
        """Run one cell; return the error (trimmed traceback) and what limits it hit."""
        try:
            self._restore_stdio()
        except OSError:
            os._exit(EXIT_IO_FAILED)  # the cell closed the session's own descriptors
        self._cell += 1
        filename = f"{CELL_PREFIX}{self._cell}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        self._cpu_exceeded = False
        self._cpu_s = cpu_s
        error: str | None = None
        memory_exceeded = False
        started = time.perf_counter()
        try:
            if cpu_s:
                limits.limit_call_cpu(cpu_s)
            self._in_call = True
            self._run_cell(code, filename)
        except BaseException as exc:  # everything the cell raised, SystemExit and KeyboardInterrupt too
            self._in_call = False
            memory_exceeded = isinstance(exc, MemoryError)
            error = self._format_error(exc)
        finally:
            self._in_call = False
            if os.getpid() != self._pid:
                os._exit(0)  # a process the cell forked came back here: only the session answers
            limits.lift_call_cpu()
        duration = time.perf_counter() - started
        self._flush_stdio()
        return {
            "error": error,
            "memory_exceeded": memory_exceeded,
            "cpu_exceeded": self._cpu_exceeded,
            "duration_s": duration,
        }

    def _run_cell(self, code: str, filename: str) -> None:
        tree = ast.parse(code, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body[-1].value)
            del tree.body[-1]
        exec(compile(tree, filename, "exec"), self._namespace)
        if last is not None:
            value = eval(compile(last, filename, "eval"), self._namespace)
            sys.displayhook(value)  # like a notebook's Out: repr of a non-None value, kept in `_`

    def _format_error(self, exc: BaseException) -> str:
        """The traceback from the first frame of the cell on (the worker's own frames dropped)."""
        try:
            tb = exc.__traceback__
            while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(CELL_PREFIX):
                tb = tb.tb_next
            text = "".join(traceback.TracebackException(type(exc), exc, tb, compact=True).format())
        except BaseException:
            text = f"{type(exc).__name__}\n"
        return clean_text(trim_middle(text, self._spec.output_limit))


def _text_writer(fd: int) -> io.TextIOWrapper:
    # Line-buffered, so what was printed before a timeout is already in the pipe when the call is killed.
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )


def _bytes_waiting(fd: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


class _IOThread(threading.Thread):
    """Owns the harness socket and the output pipes; answers flushes while the main thread is busy."""

    def __init__(self, sock: socket.socket, out_r: int, err_r: int, output_limit: int) -> None:
        super().__init__(name="aimo-sandbox-io", daemon=True)
        self.requests: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._finished: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._sock = sock
        self._send_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._streams = {out_r: HeadTail(output_limit), err_r: HeadTail(output_limit)}
        self._out_r, self._err_r = out_r, err_r
        for fd in (out_r, err_r, self._wake_r):
            os.set_blocking(fd, False)
        for fd in (out_r, err_r):
            with contextlib.suppress(OSError):  # a bigger pipe lets a printing cell run on while we pause
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)

    @property
    def fds(self) -> tuple[int, int]:
        return self._wake_r, self._wake_w

    def send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            send_frame(self._sock, message)

    def finish(self, outcome: dict[str, Any]) -> None:
        """Hand a finished call to this thread, which adds the output and answers the harness."""
        self._finished.put(outcome)
        os.write(self._wake_w, b"\0")

    def run(self) -> None:
        with contextlib.suppress(BaseException):
            self._loop()
        os._exit(0 if self._sock.fileno() == -1 else EXIT_IO_FAILED)

    def _loop(self) -> None:
        poller = select.poll()
        open_streams = {self._out_r, self._err_r}
        for fd in (self._sock.fileno(), self._wake_r, *open_streams):
            poller.register(fd, select.POLLIN)
        resume_at = 0.0  # while output floods in, the pipes are read at most every READ_PAUSE_S
        decoder = FrameDecoder()
        while True:
            timeout_ms = None
            if resume_at:
                timeout_ms = max(0.0, (resume_at - time.monotonic()) * 1000)
                if timeout_ms == 0:
                    resume_at = 0.0
                    for fd in open_streams:
                        poller.register(fd, select.POLLIN)
            for fd, event in poller.poll(timeout_ms):
                if event & select.POLLNVAL:
                    raise OSError(f"descriptor {fd} was closed by the cell")
                if fd in self._streams:
                    if not self._read(fd):
                        open_streams.discard(fd)
                    if not resume_at:
                        resume_at = time.monotonic() + READ_PAUSE_S
                        for stream in open_streams | {fd}:
                            poller.unregister(stream)
                elif fd == self._wake_r:
                    os.read(self._wake_r, 4096)
                    while not self._finished.empty():
                        self._answer("result", self._finished.get())
                else:
                    data = self._sock.recv(1 << 16)
                    if not data:
                        self._sock.close()
                        return  # the harness closed the session
                    for message in decoder.feed(data):
                        self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "run":
            self.requests.put(message)
        elif op == "flush":
            self._answer("partial", {"seq": message.get("seq")})
        else:
            raise ProtocolError(f"unknown op {op!r}")

    def _read(self, fd: int) -> bool:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        self._streams[fd].feed(data)
        return bool(data)

    def _drain(self, fd: int) -> None:
        # Only what is in the pipe now: a grandchild printing forever must not keep us here.
        waiting = _bytes_waiting(fd)
        while waiting > 0:
            try:
                data = os.read(fd, min(waiting, 1 << 16))
            except BlockingIOError:
                return
            if not data:
                return
            self._streams[fd].feed(data)
            waiting -= len(data)

    def _answer(self, op: str, fields: dict[str, Any]) -> None:
        self._drain(self._out_r)
        self._drain(self._err_r)
        stdout, cut_out = self._streams[self._out_r].take()
        stderr, cut_err = self._streams[self._err_r].take()
        self.send({"op": op, **fields, "stdout": stdout, "stderr": stderr, "truncated": cut_out or cut_err})
