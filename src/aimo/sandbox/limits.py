"""OS-level isolation and limits applied to a session process: namespaces, mounts, rlimits, uid.

Everything here runs in forked children of the template process, before any user code. Linux only;
the calls go through ctypes because Python 3.11 has no `os.unshare` or `mount`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import resource
import stat
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# Directories anyone may write to; with a mount namespace they all show the session's own tmpfs.
PRIVATE_TMP = "/tmp"
SHARED_TMP_DIRS = ("/var/tmp", "/dev/shm")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def unshare(flags: int) -> None:
    """unshare(2): move this process (or, for CLONE_NEWPID, its next children) into new namespaces."""
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2)."""
    args = [s.encode() if s is not None else None for s in (source, target, fstype)]
    _check(_libc.mount(*args, flags, data.encode() if data else None), f"mount {target}")


def prctl(option: int, arg: int = 0) -> None:
    """prctl(2) with one argument."""
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


@dataclass(frozen=True)
class Isolation:
    """Which isolation features the OS allowed here (found once by `probe`)."""

    pid_namespace: bool = False
    mount_namespace: bool = False
    private_proc: bool = False
    network_namespace: bool = False
    ipc_uts_namespaces: bool = False
    setuid: bool = False

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)


@dataclass(frozen=True)
class ProcessLimits:
    """Per-process rlimits of a session (None: leave unlimited)."""

    memory_bytes: int | None
    max_processes: int | None
    max_file_bytes: int | None
    max_open_files: int
    session_cpu_s: float | None


def enter_namespaces(isolation: Isolation) -> None:
    """In a session process (pid 1 of its PID namespace where allowed): new mount, network, IPC and
    UTS namespaces, a private /proc showing only the session's processes."""
    flags = (
        (CLONE_NEWNS if isolation.mount_namespace else 0)
        | (CLONE_NEWNET if isolation.network_namespace else 0)
        | (CLONE_NEWIPC | CLONE_NEWUTS if isolation.ipc_uts_namespaces else 0)
    )
    if flags:
        unshare(flags)
    if isolation.mount_namespace:
        # Without this, mounts below would propagate back to the host's mount table.
        mount(None, "/", None, MS_REC | MS_PRIVATE)
    if isolation.private_proc:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if isolation.mount_namespace and isolation.setuid:
        expose_paths(interpreter_paths())


def mount_private_tmp(uid: int, gid: int, size_bytes: int) -> str:
    """Mount a size-limited tmpfs owned by `uid` on /tmp and show it at /var/tmp and /dev/shm too.

    The interpreter's own directories below /tmp (a virtualenv or checkout there, as in a CI clone)
    are bound back in, read-only, so a session can still start `sys.executable`. Returns the session's
    working directory. Needs a mount namespace.
    """
    below = [p for p in interpreter_paths() if p.startswith(PRIVATE_TMP + "/")]
    below = [p for p in below if not any(p.startswith(q + "/") for q in below)]  # parents carry children
    fds = [os.open(path, os.O_PATH) for path in below]  # still reachable until covered
    options = f"size={size_bytes},mode=0700,uid={uid},gid={gid}"
    mount("tmpfs", PRIVATE_TMP, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for target, fd in zip(below, fds, strict=True):
        _bind_back(f"/proc/self/fd/{fd}", target)
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        os.close(fd)
    for path in SHARED_TMP_DIRS:
        if os.path.isdir(path) and not os.path.islink(path):
            mount(PRIVATE_TMP, path, None, MS_BIND)
    return PRIVATE_TMP


def _bind_back(source: str, target: str) -> None:
    """Bind `source` (a /proc/self/fd path) onto `target`, creating the mount point first."""
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)


def close_fds_except(keep: set[int]) -> None:
    """Close every file descriptor of this process but those in `keep`."""
    low = 0
    for fd in [*sorted(keep), max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], max(keep) + 1)]:
        # Never an empty range: CPython 3.11 turns closerange(n, n) into close_range(n, ~0), closing all.
        if low < fd:
            os.closerange(low, fd)
        low = fd + 1


def interpreter_paths() -> list[str]:
    """Where this Python's files live: what a session must be able to read to import and re-exec."""
    paths = {
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        *(p for p in sys.path if p),
    }
    return sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})


def _closed_ancestor(path: str) -> str | None:
    """The topmost directory above `path` that other users may not enter (no o+x), if any."""
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:depth])
        if not os.stat(ancestor).st_mode & stat.S_IXOTH:
            return ancestor
    return None


def expose_paths(paths: list[str]) -> None:
    """Make `paths` reachable by any uid where a directory above them is closed to others (e.g. a
    Python installed under /root): cover that directory with an empty tmpfs, which also hides the
    rest of it, and bind just `paths` back in. Needs a mount namespace and root."""
    under: dict[str, list[str]] = {}
    for path in sorted(paths):  # sorted: a parent comes before its children, which it already carries
        top = _closed_ancestor(path)
        if top is not None and not any(path.startswith(p + "/") for p in under.get(top, [])):
            under.setdefault(top, []).append(path)
    for top, targets in under.items():
        fds = [os.open(target, os.O_PATH) for target in targets]  # still reachable until covered
        mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        for target, fd in zip(targets, fds, strict=True):
            _bind_back(f"/proc/self/fd/{fd}", target)
            os.close(fd)


def unreadable(paths: list[str]) -> list[str]:
    """Those of `paths` this process cannot read (and enter, for directories)."""
    return [p for p in paths if not os.access(p, os.R_OK | (os.X_OK if os.path.isdir(p) else 0))]


def _count_own_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def apply_rlimits(limits: ProcessLimits, own_uid: bool) -> None:
    """Set the session's rlimits, all but the address space (see `limit_address_space`).

    RLIMIT_NPROC counts every process and thread of the real uid: with a uid of its own the session
    gets exactly `max_processes`; sharing the harness's uid it gets that many more than exist now.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    if limits.max_file_bytes is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
    if limits.max_processes is not None:
        nproc = limits.max_processes if own_uid else _count_own_processes() + limits.max_processes
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if limits.session_cpu_s is not None:
        cpu = int(limits.session_cpu_s + 0.999)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def limit_address_space(extra_bytes: int) -> None:
    """Cap the address space at its current size plus `extra_bytes` (RLIMIT_AS)."""
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + extra_bytes, size + extra_bytes))


def drop_privileges(uid: int) -> None:
    """Become `uid` (and gid `uid`, no supplementary groups); no way back to root, no setuid binaries."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def limit_call_cpu(seconds: float) -> None:
    """Let the process use `seconds` more CPU time before SIGXCPU (soft RLIMIT_CPU)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime + seconds + 0.999)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def lift_call_cpu() -> None:
    """Undo `limit_call_cpu` between calls (back to the session's hard limit)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def probe(want: Isolation, uid: int) -> tuple[Isolation, list[str]]:
    """Find which of the `want`ed isolation features this OS allows, in throwaway child processes.

    Returns what works and one warning per feature that was wanted but refused.
    """
    wanted = want.to_dict()
    got: dict[str, bool] = {}
    for name in wanted:
        got[name] = wanted[name] and _try_in_child(functools.partial(_probe_feature, name, uid, got))
    warnings = [
        f"sandbox: {_FEATURE_TEXT[name]} is not available here; {_FEATURE_RISK[name]}"
        for name in wanted
        if wanted[name] and not got[name]
    ]
    return Isolation(**got), warnings


_FEATURE_TEXT = {
    "pid_namespace": "a PID namespace",
    "mount_namespace": "a mount namespace",
    "private_proc": "a private /proc",
    "network_namespace": "a network namespace",
    "ipc_uts_namespaces": "IPC/UTS namespaces",
    "setuid": "switching to a per-session uid (needs root, and a Python other users can read)",
}
_FEATURE_RISK = {
    "pid_namespace": "sessions see host processes, and cleanup falls back to scanning /proc",
    "mount_namespace": "sessions share the host's /tmp, and disk use is bounded per file only",
    "private_proc": "sessions see every process of the host in /proc",
    "network_namespace": "code can reach the network",
    "ipc_uts_namespaces": "sessions share SysV IPC and the hostname",
    "setuid": "code runs as the harness's user, so it can read the harness's files and signal it",
}


def _probe_feature(name: str, uid: int, got: dict[str, bool]) -> None:
    """Try one feature the way a session uses it (in the namespaces already found to work)."""
    if name == "pid_namespace":
        unshare(CLONE_NEWPID)
        if not _try_in_child(_require_pid_1):
            raise OSError(errno.EPERM, "not pid 1 in the new PID namespace")
    elif name == "mount_namespace":
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount("tmpfs", PRIVATE_TMP, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
    elif name == "private_proc":
        if not (got["pid_namespace"] and got["mount_namespace"]):
            raise OSError(errno.EPERM, "needs PID and mount namespaces")
        unshare(CLONE_NEWPID)
        if not _try_in_child(_mount_proc):
            raise OSError(errno.EPERM, "cannot mount proc")
    elif name == "network_namespace":
        unshare(CLONE_NEWNET)
    elif name == "ipc_uts_namespaces":
        unshare(CLONE_NEWIPC | CLONE_NEWUTS)
    elif name == "setuid":
        if got["mount_namespace"]:
            unshare(CLONE_NEWNS)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            expose_paths(interpreter_paths())
        drop_privileges(uid)
        if unreadable(interpreter_paths()):
            raise PermissionError("the Python installation is not readable by other users")


def _require_pid_1() -> None:
    if os.getpid() != 1:
        raise OSError(errno.EPERM, "not pid 1")


def _mount_proc() -> None:
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _try_in_child(action: Callable[[], None]) -> bool:
    """Run `action()` in a forked child; True if it returned without raising."""
    pid = os.fork()
    if pid == 0:
        try:
            action()
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
