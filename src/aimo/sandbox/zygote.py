"""The template process ("zygote"): imports the usual modules once, then forks sessions on request.

Process tree, one branch per session:

    harness ── zygote (preloaded, single-threaded, never runs user code)
                 └─ supervisor (subreaper; pid 1's parent; counts the session's CPU time)
                      └─ session (pid 1 of its own PID namespace; own uid or user namespace,
                                  mount/net/IPC/UTS namespaces, minimal root, seccomp filter)
                           └─ whatever the code starts

Asking for a kill closes the supervisor's pipe; it SIGKILLs the session, and when pid 1 of a PID
namespace dies the kernel kills every process in it. Where there is no PID namespace the supervisor,
being a subreaper, still has every orphan reparented to it and kills its descendants until none are
left. Either way the supervisor exits only when all of the session's processes are gone, so a
session's uid and slot are reused only after that.

Messages from the harness: {"op": "spawn", "id"} with the session's socket and the write ends of its
stdout and stderr pipes attached,
{"op": "kill", "id", "slot"} and {"op": "shutdown", "id"}; each gets {"id", "ok", ...} back.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import importlib
import os
import select
import selectors
import shutil
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aimo.sandbox import limits, probe, rootfs, syscalls
from aimo.sandbox import syscall_filter as syscall_filter_module
from aimo.sandbox.config import MAX_SLOTS, SandboxConfig
from aimo.sandbox.protocol import ProtocolError, recv_frame, send_frame
from aimo.sandbox.worker import SessionSpec, serve

BOOTSTRAP = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from aimo.sandbox.zygote import main; main(int(sys.argv[2]), sys.argv[3], sys.argv[4])"
)
# Exit codes of a supervisor: the session's exit code (at most 127), 128 + the signal that killed it,
# or one of these.
CPU_EXCEEDED = 253
KILLED_ON_REQUEST = 254
SUPERVISOR_FAILED = 255
# Written to a supervisor's kill pipe by a kill request with grace: the harness saw the session close
# its socket, so it is probably exiting; waiting a little lets its own exit status be reported.
GRACE = b"g"
GRACE_S = 0.1
SWEEP_TIMEOUT_S = 30.0
# How often a supervisor adds up the CPU time of its session's processes.
CPU_CHECK_S = 1.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def main(control_fd: int, config_json: str, root: str) -> None:
    """Entry point of the template process (see BOOTSTRAP); `root` is the harness's directory for
    session directories where there is no mount namespace."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness decides when we stop
    sock = socket.socket(fileno=control_fd)
    Zygote(sock, SandboxConfig.model_validate_json(config_json), root).serve()


def decode_exit(status: int | None) -> dict[str, Any]:
    """A supervisor's wait status as {"code", "signal", "killed"} of the session it supervised."""
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else SUPERVISOR_FAILED
    exit_info: dict[str, Any] = {"code": None, "signal": None, "killed": False, "cpu_exceeded": False}
    if code == KILLED_ON_REQUEST:
        exit_info["killed"] = True
    elif code == CPU_EXCEEDED:
        exit_info["cpu_exceeded"] = True
    elif code >= 128 and code != SUPERVISOR_FAILED:
        exit_info["signal"] = code - 128
    elif code < 128:
        exit_info["code"] = code
    return exit_info


@dataclass
class _Slot:
    index: int
    supervisor: int
    pidfd: int
    kill_w: int | None
    workdir: str | None
    status: int | None = None
    reaped: bool = False
    waiting: list[Any] = field(default_factory=list)


class Zygote:
    """The template's request loop; owns the slots (uids) of live sessions."""

    def __init__(self, sock: socket.socket, config: SandboxConfig, root: str) -> None:
        self._sock = sock
        self._config = config
        warnings = self._preload(config.preload)
        syscall_filter, no_filter = syscall_filter_module.build() if config.seccomp else (None, None)
        if no_filter:
            warnings.append(f"sandbox: no seccomp filter: {no_filter}")
        self._visible = rootfs.session_visible_paths()
        gc.collect()
        gc.freeze()  # keeps the preloaded heap out of GC passes, so forks share its pages for longer
        self._uid_base = config.uid_base if config.uid_base is not None else 100_000 + os.getpid() * MAX_SLOTS
        want = limits.Isolation(
            user_namespace=config.user_namespace and (config.namespaces or config.isolate_network),
            pid_namespace=config.namespaces,
            mount_namespace=config.namespaces,
            private_proc=config.namespaces,
            network_namespace=config.isolate_network,
            ipc_uts_namespaces=config.namespaces,
            minimal_root=config.namespaces and config.minimal_root,
            setuid=config.drop_privileges,
            seccomp=syscall_filter is not None,
        )
        self._isolation, refused = probe.probe(want, self._uid_base, self._visible, syscall_filter)
        self._syscall_filter = syscall_filter if self._isolation.seccomp else None
        warnings += refused
        self._root: str | None = None if self._isolation.mount_namespace else root
        mib = 1 << 20
        self._limits = limits.ProcessLimits(
            memory_bytes=config.memory_mb * mib if config.memory_mb else None,
            max_processes=config.max_processes,
            max_file_bytes=config.max_file_mb * mib if config.max_file_mb else None,
            max_open_files=config.max_open_files,
            session_cpu_s=config.session_cpu_s,
        )
        # First in, first out: a freed uid is reused last, so it is not confused with its successor.
        self._free = collections.deque(range(MAX_SLOTS))
        self._slots: dict[int, _Slot] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ, None)
        if threading.active_count() > 1 or len(os.listdir("/proc/self/task")) > 1:
            warnings.append("sandbox: a preloaded module started threads; forking may be unreliable")
        send_frame(
            sock,
            {
                "op": "ready",
                "pid": os.getpid(),
                "isolation": self._isolation.to_dict(),
                "visible": rootfs.minimal_root_paths(self._visible) if self._isolation.minimal_root else [],
                "warnings": warnings,
            },
        )

    @staticmethod
    def _preload(names: list[str]) -> list[str]:
        warnings = []
        for name in names:
            try:
                importlib.import_module(name)
            except (Exception, SystemExit) as exc:
                warnings.append(f"sandbox: cannot preload {name!r}: {exc!r}")
        return warnings

    def serve(self) -> NoReturn:
        """Answer requests until the harness says shutdown or goes away; then kill every session."""
        try:
            while True:
                for key, _ in self._selector.select():
                    if key.data is None:
                        if not self._handle_request():
                            raise SystemExit
                    else:
                        self._reap(key.data)
        except (SystemExit, OSError, ProtocolError):
            pass
        self._shutdown()
        os._exit(0)

    def _handle_request(self) -> bool:
        received = recv_frame(self._sock, max_fds=4)
        if received is None:
            return False
        message, fds = received
        op, request_id = message.get("op"), message.get("id")
        try:
            if op == "spawn" and len(fds) == 3:
                self._reply(request_id, self._spawn(*fds))
            elif op == "kill":
                self._kill(request_id, int(message["slot"]), bool(message.get("grace")))
            elif op == "shutdown":
                self._shutdown()
                self._reply(request_id, {})
                return False
            else:
                raise ValueError(f"bad request {op!r} with {len(fds)} fds")
        except Exception as exc:  # a bad request fails alone; the template keeps serving
            self._reply(request_id, {"error": f"{type(exc).__name__}: {exc}"}, ok=False)
        finally:
            for fd in fds:
                os.close(fd)
        return True

    def _reply(self, request_id: Any, fields: dict[str, Any], ok: bool = True) -> None:
        send_frame(self._sock, {"id": request_id, "ok": ok, **fields})

    def _spawn(self, session_fd: int, out_w: int, err_w: int) -> dict[str, Any]:
        """Fork a supervisor, and through it a session, that talks on `session_fd` and writes its
        output to `out_w` and `err_w` (the caller closes all three afterwards)."""
        if not self._free:
            raise ValueError(f"all {MAX_SLOTS} session slots are in use")
        index = self._free.popleft()
        uid = self._uid_base + index
        workdir = None
        try:
            if self._root is not None:
                workdir = os.path.join(self._root, f"session-{index}")
                os.mkdir(workdir, 0o700)
                if self._isolation.setuid:
                    os.chown(workdir, uid, uid)
            spec = SessionSpec(
                uid,
                self._isolation,
                self._limits,
                rootfs.Scratch(self._config.disk_mb << 20, self._config.disk_files),
                workdir,
                self._config.output_limit_bytes,
                self._config.int_max_str_digits,
                self._visible,
                self._syscall_filter,
            )
            kill_r, kill_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                _supervise((session_fd, out_w, err_w), kill_r, spec)
            os.close(kill_r)
        except BaseException:
            self._free.append(index)
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        slot = _Slot(index, pid, os.pidfd_open(pid), kill_w, workdir)
        self._slots[index] = slot
        self._selector.register(slot.pidfd, selectors.EVENT_READ, index)
        return {
            "slot": index,
            "uid": uid if self._isolation.setuid else None,
            "workdir": workdir,
            "supervisor": pid,
        }

    def _kill(self, request_id: Any, index: int, grace: bool) -> None:
        slot = self._slots[index]
        if slot.kill_w is not None:
            if grace:
                with contextlib.suppress(BrokenPipeError):  # the supervisor is gone already
                    os.write(slot.kill_w, GRACE)
            os.close(slot.kill_w)
            slot.kill_w = None
        slot.waiting.append(request_id)
        if slot.reaped:
            self._release(slot)

    def _reap(self, index: int) -> None:
        slot = self._slots[index]
        self._selector.unregister(slot.pidfd)
        os.close(slot.pidfd)
        _, slot.status = os.waitpid(slot.supervisor, 0)
        slot.reaped = True
        if slot.waiting:
            self._release(slot)

    def _release(self, slot: _Slot) -> None:
        """The session is gone for good: free its slot and directory, answer who asked for the kill."""
        if slot.workdir:
            shutil.rmtree(slot.workdir, ignore_errors=True)
        del self._slots[slot.index]
        self._free.append(slot.index)
        for request_id in slot.waiting:
            self._reply(request_id, decode_exit(slot.status))

    def _shutdown(self) -> None:
        for slot in list(self._slots.values()):
            if slot.kill_w is not None:
                os.close(slot.kill_w)
                slot.kill_w = None
        for slot in list(self._slots.values()):
            if not slot.reaped:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(slot.supervisor, 0)
            if slot.workdir:
                shutil.rmtree(slot.workdir, ignore_errors=True)
        self._slots.clear()


def _supervise(session_fds: tuple[int, int, int], kill_r: int, spec: SessionSpec) -> NoReturn:
    """The supervisor: start the session, wait for it to die, to use up its CPU time or for a kill
    request, clean up."""
    code = SUPERVISOR_FAILED
    try:
        limits.close_fds_except({0, 1, 2, *session_fds, kill_r})
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        if spec.isolation.user_namespace:
            limits.enter_user_namespace()
        if spec.isolation.pid_namespace:
            syscalls.unshare(syscalls.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            os.close(kill_r)
            serve(socket.socket(fileno=session_fds[0]), session_fds[1], session_fds[2], spec)
        for fd in session_fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        ready = _wait(pidfd, kill_r, pid, spec)
        if not ready:
            code = CPU_EXCEEDED
        elif kill_r in ready and os.read(kill_r, 1) == GRACE:
            select.select([pidfd], [], [], GRACE_S)  # it closed its socket: let it finish dying
        died, status = os.waitpid(pid, os.WNOHANG)
        if not died:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.waitpid(pid, 0)
        _kill_descendants()
        if code == CPU_EXCEEDED:
            pass
        elif not died:
            code = KILLED_ON_REQUEST
        elif os.WIFSIGNALED(status):
            code = 128 + os.WTERMSIG(status)
        else:
            code = min(os.WEXITSTATUS(status), 127)
    finally:
        os._exit(code)


def _wait(pidfd: int, kill_r: int, pid: int, spec: SessionSpec) -> list[int]:
    """Wait for the session to end or a kill request (the ready fds); [] when the session's processes
    together used more than their CPU time."""
    budget = spec.limits.session_cpu_s
    while True:
        ready, _, _ = select.select([pidfd, kill_r], [], [], CPU_CHECK_S if budget else None)
        if ready:
            return ready
        if budget and _tree_cpu_s(pid, spec.isolation.private_proc) > budget:
            return []


def _tree_cpu_s(pid: int, own_proc: bool) -> float:
    """CPU seconds used by the session `pid` and everything it started, live or reaped (children's
    times are added to their parent's when it waits for them)."""
    if own_proc:  # the session's own /proc lists exactly its processes
        proc = f"/proc/{pid}/root/proc"
        pids = [name for name in _listdir(proc) if name.isdigit()]
    else:
        proc, pids = "/proc", [str(p) for p in _descendants(os.getpid())]
    ticks = 0
    for name in pids:
        try:
            with open(f"{proc}/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / _CLOCK_TICKS


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _kill_descendants() -> None:
    """Kill and reap every process below this one (a subreaper, so orphans are its children).

    Gives up after SWEEP_TIMEOUT_S, on processes that cannot die (stuck in the kernel)."""
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child left, hence no descendant: each would have a live ancestor among them
        if pid:
            continue
        tree = _descendants(os.getpid())
        for victim in tree:
            try:
                pidfd = os.pidfd_open(victim)
            except OSError:
                continue
            # The pidfd pins the process: if its pid was reused before it was opened, the parent check
            # fails; if reused after, the signal goes nowhere.
            with contextlib.suppress(OSError):
                if _parent(victim) in tree or _parent(victim) == os.getpid():
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.close(pidfd)
        time.sleep(0.001)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: parse from the last ')'.
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            parent = _parent(int(name))
            if parent is not None:
                children.setdefault(parent, []).append(int(name))
    found: set[int] = set()
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.add(pid)
        stack.extend(children.get(pid, []))
    return found


if __name__ == "__main__":  # pragma: no cover - started through BOOTSTRAP
    sys.exit("use aimo.sandbox.Sandbox")
