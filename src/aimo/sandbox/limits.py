"""Isolation and limits applied to a session process: namespaces, root, rlimits, uid, capabilities.

Everything here runs in forked children of the template process, before any user code. Linux only.
"""

from __future__ import annotations

import os
import resource
from dataclasses import asdict, dataclass

from aimo.sandbox.rootfs import (
    Scratch,
    enter_minimal_root,
    expose_paths,
    interpreter_paths,
    mount_private_tmp,
)
from aimo.sandbox.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    PR_SET_NO_NEW_PRIVS,
    mount,
    prctl,
    unshare,
)


@dataclass(frozen=True)
class Isolation:
    """Which isolation features the OS allowed here (found once by `probe`)."""

    user_namespace: bool = False
    pid_namespace: bool = False
    mount_namespace: bool = False
    private_proc: bool = False
    minimal_root: bool = False
    network_namespace: bool = False
    ipc_uts_namespaces: bool = False
    setuid: bool = False
    seccomp: bool = False

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


def enter_user_namespace() -> None:
    """Become root of a new user namespace mapped to this process's own uid and gid: an ordinary
    user gets the other namespaces this way. Root there is nobody special on the host."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def isolate_session(isolation: Isolation, uid: int, scratch: Scratch, visible: tuple[str, ...]) -> str | None:
    """In a session process (pid 1 of its PID namespace where allowed): new mount, network, IPC and
    UTS namespaces, and with a mount namespace a root of its own. Returns the working directory, or
    None where the session has to use a host directory."""
    flags = (
        (CLONE_NEWNS if isolation.mount_namespace else 0)
        | (CLONE_NEWNET if isolation.network_namespace else 0)
        | (CLONE_NEWIPC | CLONE_NEWUTS if isolation.ipc_uts_namespaces else 0)
    )
    if flags:
        unshare(flags)
    if not isolation.mount_namespace:
        return None
    # Without this, mounts below would propagate back to the host's mount table.
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    owner = (uid, uid) if isolation.setuid else (os.getuid(), os.getgid())
    if isolation.minimal_root:
        return enter_minimal_root(visible, scratch, owner, isolation.private_proc)
    if isolation.private_proc:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if isolation.setuid:
        expose_paths(interpreter_paths())
    return mount_private_tmp(owner, scratch)


def close_fds_except(keep: set[int]) -> None:
    """Close every file descriptor of this process but those in `keep`."""
    low = 0
    for fd in [*sorted(keep), max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], max(keep) + 1)]:
        # Never an empty range: CPython 3.11 turns closerange(n, n) into close_range(n, ~0), closing all.
        if low < fd:
            os.closerange(low, fd)
        low = fd + 1


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

    RLIMIT_NPROC counts every process and thread of the real uid (in its user namespace): with a uid
    (or a user namespace) of its own the session gets exactly `max_processes`; sharing the harness's
    uid it gets that many more than exist now.
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
