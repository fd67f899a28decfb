"""The session process: isolates itself, then runs code blocks in one namespace, like notebook cells.

It is forked from the template (`zygote`) with the preloaded modules already in memory, so nothing is
imported at start. It is single-threaded: it reads a request, runs the cell, answers, and waits for the
next. Output goes to real pipes (fd 1 and 2) whose read ends only the harness holds, so prints of child
processes and C code are captured too, what was printed before a timeout is read even while the cell
holds the GIL, and output limits are enforced by the harness, not by this process.

This process runs hostile code, so nothing it sends is trusted: messages (see `protocol`) are harness ->
session {"op": "run", "nonce", "code", "cpu_s"}; session -> harness {"op": "ready"},
{"op": "result", "nonce", "error", "memory_exceeded", "cpu_exceeded"} and {"op": "fatal", "error"} when
setting up failed. The harness takes exactly one answer per request, carrying that request's nonce.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import linecache
import os
import signal
import socket
import sys
import traceback
import types
from dataclasses import dataclass
from types import FrameType
from typing import Any, NoReturn

from aimo.sandbox import limits, rootfs, syscalls
from aimo.sandbox.output import trim_middle
from aimo.sandbox.protocol import ProtocolError, clean_text, recv_frame, send_frame

CELL_PREFIX = "<cell "
EXIT_SETUP_FAILED = 71
EXIT_IO_FAILED = 72


@dataclass(frozen=True)
class SessionSpec:
    """Everything a session process needs to set itself up (decided by the template)."""

    uid: int
    isolation: limits.Isolation
    limits: limits.ProcessLimits
    scratch: rootfs.Scratch
    host_workdir: str | None
    output_limit: int
    int_max_str_digits: int
    visible_paths: tuple[str, ...]
    syscall_filter: Any | None  # a loadable pyseccomp filter, built once by the template


def serve(sock: socket.socket, out_w: int, err_w: int, spec: SessionSpec) -> NoReturn:
    """Entry point of a freshly forked session process; never returns."""
    try:
        process = _SessionProcess(sock, out_w, err_w, spec)
    except BaseException as exc:
        try:
            send_frame(sock, {"op": "fatal", "error": clean_text(f"{type(exc).__name__}: {exc}")})
        finally:
            os._exit(EXIT_SETUP_FAILED)
    process.loop()


class _SessionProcess:
    def __init__(self, sock: socket.socket, out_w: int, err_w: int, spec: SessionSpec) -> None:
        self._spec = spec
        self._sock = sock
        os.setsid()
        workdir = limits.isolate_session(spec.isolation, spec.uid, spec.scratch, spec.visible_paths)
        workdir = workdir or spec.host_workdir or os.getcwd()
        os.chdir(workdir)
        limits.apply_rlimits(spec.limits, own_uid=spec.isolation.setuid or spec.isolation.user_namespace)
        if spec.isolation.setuid:
            limits.drop_privileges(spec.uid)
        else:
            syscalls.drop_capabilities()
        # Set after the uid change, which clears it: die with the supervisor, whatever kills it.
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
        self._pid = os.getpid()
        os.environ.update(HOME=workdir, TMPDIR=workdir, PWD=workdir)

        devnull = os.open(os.devnull, os.O_RDWR)
        self._std_sources = ((devnull, 0), (out_w, 1), (err_w, 2))
        limits.close_fds_except({0, 1, 2, sock.fileno(), devnull, out_w, err_w})
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
        if spec.limits.memory_bytes is not None:
            limits.limit_address_space(spec.limits.memory_bytes)
        # Last: from here on the kernel refuses what model-written code never needs.
        if spec.syscall_filter is not None:
            spec.syscall_filter.load()
        send_frame(sock, {"op": "ready", "workdir": workdir})

    def loop(self) -> NoReturn:
        """Run requests from the harness until it closes the connection."""
        while True:
            try:
                received = recv_frame(self._sock)
            except (OSError, ProtocolError):
                os._exit(EXIT_IO_FAILED)  # the cell broke our socket
            if received is None:
                os._exit(0)  # the harness closed the session
            request = received[0]
            outcome = self._execute(str(request.get("code", "")), float(request.get("cpu_s") or 0))
            try:
                send_frame(self._sock, {"op": "result", "nonce": request.get("nonce"), **outcome})
            except OSError:
                os._exit(EXIT_IO_FAILED)

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
        self._flush_stdio()
        return {"error": error, "memory_exceeded": memory_exceeded, "cpu_exceeded": self._cpu_exceeded}

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
