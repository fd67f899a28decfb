"""A seccomp filter for sessions: the kernel refuses what model-written math code never needs.

Built once in the template with libseccomp (through `pyseccomp`), loaded by each session last, before
any user code. Refused calls fail with EPERM (ENOSYS for clone3, so that the C library falls back to
clone, whose namespace flags the filter can see). Where pyseccomp or libseccomp is missing, `build`
says why and sessions run without the filter (reported in `Sandbox.isolation["seccomp"]`).
"""

from __future__ import annotations

import errno
from typing import Any

from aimo.sandbox.syscalls import NAMESPACE_FLAGS

# New namespaces and mounts (a way back to capabilities), kernel interfaces with a history of
# exploits (io_uring, bpf, userfaultfd, perf), state shared between sessions of one uid (keyrings,
# System V IPC, POSIX message queues), memory outside RLIMIT_AS (memfd, shared memory), and reading or
# writing other processes.
DENIED = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fspick",
    "mount_setattr",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "userfaultfd",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "shmget",
    "shmat",
    "msgget",
    "semget",
    "mq_open",
    "memfd_create",
    "memfd_secret",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "quotactl",
)


def build() -> tuple[Any | None, str | None]:
    """The filter, ready to load, or None and the reason it cannot be had here."""
    try:
        import pyseccomp as seccomp
    except ImportError:
        return None, "the pyseccomp package is not installed (pip install pyseccomp)"
    except OSError as exc:  # pyseccomp loads libseccomp.so.2 when imported
        return None, f"libseccomp is not installed (apt-get install libseccomp2): {exc}"
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        deny = seccomp.ERRNO(errno.EPERM)
        for name in DENIED:
            try:
                rules.add_rule(deny, name)
            except (ValueError, RuntimeError, OSError):
                continue  # a call this architecture or libseccomp does not know
        for flag in NAMESPACE_FLAGS:
            rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    except Exception as exc:
        return None, f"libseccomp refused the filter: {exc!r}"
    return rules, None
