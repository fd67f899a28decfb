"""Harness side of the template process: start it, then ask it to spawn and kill sessions."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from typing import Any

from aimo.sandbox.config import SandboxConfig
from aimo.sandbox.errors import SandboxError
from aimo.sandbox.protocol import ProtocolError, encode, fds_ancillary, read_frame
from aimo.sandbox.zygote import BOOTSTRAP

# Thread pools of numerical libraries would make every session start threads (and fork unsafely).
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
UNKNOWN_EXIT: dict[str, Any] = {"code": None, "signal": None, "killed": False, "cpu_exceeded": False}


def template_env(config: SandboxConfig, python: str) -> dict[str, str]:
    """The whole environment of the template, and so of every session: nothing of the harness's."""
    env = {
        "PATH": f"{os.path.dirname(python)}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",
        "MPLBACKEND": "Agg",
        **dict.fromkeys(_THREAD_VARS, "1"),
    }
    env.update(config.env)
    return env


def describe_exit(exit_info: dict[str, Any]) -> str:
    """How a session process ended, in words for the model."""
    sig, code = exit_info.get("signal"), exit_info.get("code")
    if exit_info.get("cpu_exceeded"):
        return "the session used up its CPU time (session_cpu_s) and was stopped"
    if exit_info.get("killed"):
        return "the process stopped answering the sandbox (it closed its connection) and was killed"
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if sig == signal.SIGXCPU:
            return f"the process exceeded its CPU time limit ({name})"
        if sig == signal.SIGKILL:
            return f"the process was killed ({name}), possibly for using too much memory"
        return f"the process died of {name} ({signal.strsignal(sig)})"
    if code is not None:
        return f"the process exited with code {code}"
    return "the process died"


class Template:
    """The running template process; requests to it are answered out of order, matched by id."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._proc: subprocess.Popen[bytes] | None = None
        # Session directories where there is no mount namespace; the harness removes it, so that
        # nothing is left behind even when the template is killed.
        self._root: str | None = None
        self._sock: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._ids = itertools.count(1)
        self._send_lock = asyncio.Lock()
        self._reader_task: asyncio.Task[None] | None = None
        self._orphan_kills: set[asyncio.Future[Any]] = set()
        self._dead = False
        self.isolation: dict[str, bool] = {}
        self.visible_paths: tuple[str, ...] = ()
        self.warnings: list[str] = []

    @property
    def alive(self) -> bool:
        return not self._dead and self._reader_task is not None and not self._reader_task.done()

    async def start(self) -> None:
        """Start the template and wait until it has preloaded its modules and probed the OS."""
        python = self._config.python or sys.executable
        parent, child = socket.socketpair()
        self._root = tempfile.mkdtemp(prefix="aimo-sandbox-", dir=self._config.workdir_root)
        os.chmod(self._root, 0o711)
        try:
            self._proc = subprocess.Popen(
                [
                    python,
                    "-I",
                    "-c",
                    BOOTSTRAP,
                    json.dumps(sys.path),
                    str(child.fileno()),
                    self._config.model_dump_json(),
                    self._root,
                ],
                pass_fds=[child.fileno()],
                env=template_env(self._config, python),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # no terminal signal (Ctrl-C) reaches it; the harness decides
            )
        except OSError as exc:
            parent.close()
            shutil.rmtree(self._root, ignore_errors=True)
            raise SandboxError(f"cannot start the sandbox template with {python}: {exc}") from exc
        finally:
            child.close()
        self._sock = parent
        reader, self._writer = await asyncio.open_unix_connection(sock=parent)
        try:
            ready = await asyncio.wait_for(read_frame(reader), self._config.start_timeout_s)
        except (TimeoutError, ProtocolError) as exc:
            await self.close()
            raise SandboxError(f"the sandbox template did not start: {exc!r}") from None
        self.isolation = dict(ready.get("isolation", {}))
        self.visible_paths = tuple(str(p) for p in ready.get("visible", []))
        self.warnings = [str(w) for w in ready.get("warnings", [])]
        self._reader_task = asyncio.create_task(self._read_replies(reader))

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                reply = await read_frame(reader)
                pending = self._pending.pop(reply.get("id", -1), None)
                if pending is None:
                    continue
                op, future = pending
                if not future.done():
                    future.set_result(reply)
                elif op == "spawn" and reply.get("ok"):
                    # Whoever asked was cancelled: the session nobody will use must go.
                    task = asyncio.ensure_future(self.kill(int(reply["slot"])))
                    self._orphan_kills.add(task)
                    task.add_done_callback(self._orphan_kills.discard)
        except ProtocolError:
            pass
        finally:
            self._dead = True
            for _, future in self._pending.values():
                if not future.done():
                    future.set_exception(SandboxError("the sandbox template died"))
            self._pending.clear()

    async def request(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> dict[str, Any]:
        """Send one request (with `fds` attached) and wait for its reply."""
        if not self.alive or self._sock is None:
            raise SandboxError("the sandbox template is not running")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (str(message.get("op")), future)
        data, ancillary = encode({**message, "id": request_id}), fds_ancillary(fds)
        async with self._send_lock:
            while data:
                try:
                    sent = self._sock.sendmsg([data], ancillary)
                except BlockingIOError:
                    await asyncio.sleep(0.001)
                    continue
                except OSError as exc:
                    self._dead = True
                    self._pending.pop(request_id, None)
                    raise SandboxError(f"the sandbox template is gone: {exc}") from None
                data, ancillary = data[sent:], []
        reply = await future
        if not reply.get("ok"):
            raise SandboxError(f"the sandbox template refused {message.get('op')}: {reply.get('error')}")
        return reply

    async def spawn(self, session_end: socket.socket, out_w: int, err_w: int) -> dict[str, Any]:
        """Fork a session that talks over `session_end` and prints to the pipes `out_w` and `err_w`;
        its slot, uid and workdir."""
        return await self.request({"op": "spawn"}, (session_end.fileno(), out_w, err_w))

    async def kill(self, slot: int, grace: bool = False) -> dict[str, Any]:
        """Kill a session and all its processes; how it ended ({"code", "signal", "killed"}).

        With `grace`, a session that is already exiting gets a moment to report its own exit status.
        """
        if not self.alive:
            return dict(UNKNOWN_EXIT)  # the template died, and its sessions with it
        try:
            reply = await self.request({"op": "kill", "slot": slot, "grace": grace})
        except SandboxError:
            return dict(UNKNOWN_EXIT)
        return {key: reply.get(key) for key in UNKNOWN_EXIT}

    async def close(self) -> None:
        """Ask the template to kill every session and exit; kill it if it does not."""
        if self.alive:
            with contextlib.suppress(SandboxError, asyncio.TimeoutError):
                await asyncio.wait_for(self.request({"op": "shutdown"}), 10)
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()
        if self._proc is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(self._proc.wait), 10)
            except TimeoutError:
                self._proc.kill()
                await asyncio.to_thread(self._proc.wait)
        if self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
