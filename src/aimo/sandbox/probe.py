"""Which isolation features this OS allows, found once by the template in throwaway children, the
way a session would use each; one warning per feature wanted but refused."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from typing import Any

from aimo.sandbox import syscalls
from aimo.sandbox.limits import Isolation, drop_privileges, enter_user_namespace
from aimo.sandbox.rootfs import (
    PRIVATE_TMP,
    Scratch,
    enter_minimal_root,
    expose_paths,
    interpreter_paths,
    unreadable,
)


def probe(
    want: Isolation, uid: int, visible: tuple[str, ...], syscall_filter: Any | None
) -> tuple[Isolation, list[str]]:
    """Find which of the `want`ed isolation features this OS allows, in throwaway child processes.

    Returns what works and one warning per feature that was wanted but refused.
    """
    wanted = want.to_dict()
    got: dict[str, bool] = {}
    for name in wanted:
        attempt = functools.partial(_probe_feature, name, uid, got, visible, syscall_filter)
        got[name] = wanted[name] and _try_in_child(attempt)
    # In a user namespace of their own, with a root and PID namespace of their own, sessions that
    # share the harness's uid still cannot reach its files or processes.
    separated = got["user_namespace"] and got["minimal_root"] and got["pid_namespace"]
    quiet = {"user_namespace", *(["setuid"] if separated else [])}
    warnings = [
        f"sandbox: {_FEATURE_TEXT[name]} is not available here; {_FEATURE_RISK[name]}"
        for name in wanted
        if wanted[name] and not got[name] and name not in quiet
    ]
    return Isolation(**got), warnings


_FEATURE_TEXT = {
    "user_namespace": "an unprivileged user namespace",
    "pid_namespace": "a PID namespace",
    "mount_namespace": "a mount namespace",
    "private_proc": "a private /proc",
    "minimal_root": "a minimal root (only the interpreter and its libraries, read-only)",
    "network_namespace": "a network namespace",
    "ipc_uts_namespaces": "IPC/UTS namespaces",
    "setuid": "switching to a per-session uid (needs root, and a Python other users can read)",
    "seccomp": "a seccomp filter",
}
_FEATURE_RISK = {
    "user_namespace": "without root there are no namespaces",
    "pid_namespace": "sessions see host processes and can signal the harness, and cleanup falls back to "
    "scanning /proc",
    "mount_namespace": "sessions share the host's /tmp, and disk use is bounded per file only",
    "private_proc": "sessions see every process of the host in /proc",
    "minimal_root": "sessions can read every world-readable host file and write world-writable directories",
    "network_namespace": "code can reach the network and the host's abstract unix sockets",
    "ipc_uts_namespaces": "sessions share SysV IPC and the hostname",
    "setuid": "code runs as the harness's user, so it can read the harness's files and signal it",
    "seccomp": "sessions can use io_uring, keyrings, user namespaces, memfd and SysV shared memory",
}


def _probe_feature(
    name: str, uid: int, got: dict[str, bool], visible: tuple[str, ...], syscall_filter: Any | None
) -> None:
    """Try one feature the way a session uses it (in the namespaces already found to work)."""
    if name != "user_namespace" and got.get("user_namespace"):
        enter_user_namespace()
    if name == "user_namespace":
        if os.geteuid() == 0:
            raise OSError(errno.EPERM, "root needs no user namespace")
        enter_user_namespace()
    elif name == "pid_namespace":
        syscalls.unshare(syscalls.CLONE_NEWPID)
        if not _try_in_child(_require_pid_1):
            raise OSError(errno.EPERM, "not pid 1 in the new PID namespace")
    elif name == "mount_namespace":
        syscalls.unshare(syscalls.CLONE_NEWNS)
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        syscalls.mount("tmpfs", PRIVATE_TMP, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, "size=1m")
    elif name == "private_proc":
        if not (got["pid_namespace"] and got["mount_namespace"]):
            raise OSError(errno.EPERM, "needs PID and mount namespaces")
        syscalls.unshare(syscalls.CLONE_NEWPID)
        if not _try_in_child(_mount_proc):
            raise OSError(errno.EPERM, "cannot mount proc")
    elif name == "minimal_root":
        if not got["mount_namespace"]:
            raise OSError(errno.EPERM, "needs a mount namespace")
        if got["pid_namespace"]:
            syscalls.unshare(syscalls.CLONE_NEWPID)
        own_proc = got["private_proc"]
        if not _try_in_child(functools.partial(_minimal_root_works, visible, own_proc)):
            raise OSError(errno.EPERM, "cannot build a minimal root")
    elif name == "network_namespace":
        syscalls.unshare(syscalls.CLONE_NEWNET)
    elif name == "ipc_uts_namespaces":
        syscalls.unshare(syscalls.CLONE_NEWIPC | syscalls.CLONE_NEWUTS)
    elif name == "setuid":
        if got["minimal_root"]:
            if got["pid_namespace"]:
                syscalls.unshare(syscalls.CLONE_NEWPID)
            if not _try_in_child(functools.partial(_own_uid_works, uid, visible, got["private_proc"])):
                raise PermissionError("cannot switch uid")
            return
        if got["mount_namespace"]:
            syscalls.unshare(syscalls.CLONE_NEWNS)
            syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
            expose_paths(interpreter_paths())
        drop_privileges(uid)
        if unreadable(interpreter_paths()):
            raise PermissionError("the Python installation is not readable by other users")
    elif name == "seccomp":
        if syscall_filter is None:
            raise OSError(errno.ENOSYS, "no filter")
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        syscall_filter.load()


def _minimal_root_works(visible: tuple[str, ...], own_proc: bool) -> None:
    syscalls.unshare(syscalls.CLONE_NEWNS)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    enter_minimal_root(visible, Scratch(1 << 20, 64), (os.getuid(), os.getgid()), own_proc)
    if unreadable(list(visible)):
        raise PermissionError("the interpreter is not visible in the minimal root")


def _own_uid_works(uid: int, visible: tuple[str, ...], own_proc: bool) -> None:
    syscalls.unshare(syscalls.CLONE_NEWNS)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    enter_minimal_root(visible, Scratch(1 << 20, 64), (uid, uid), own_proc)
    drop_privileges(uid)
    if unreadable(list(visible)):
        raise PermissionError("the Python installation is not readable by other users")


def _require_pid_1() -> None:
    if os.getpid() != 1:
        raise OSError(errno.EPERM, "not pid 1")


def _mount_proc() -> None:
    syscalls.unshare(syscalls.CLONE_NEWNS)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    syscalls.mount("proc", "/proc", "proc", syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC)


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
