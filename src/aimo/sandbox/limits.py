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
import platform
import resource
import stat
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS,
    CLONE_NEWCGROUP,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_RELATIME = 0x200000
MNT_DETACH = 0x2
# statvfs flags of a mount that a remount inside a user namespace must keep (they are locked).
_LOCKED_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# Directories anyone may write to; with a mount namespace they all show the session's own tmpfs.
PRIVATE_TMP = "/tmp"
SHARED_TMP_DIRS = ("/var/tmp", "/dev/shm")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long
# glibc has no pivot_root wrapper; its syscall number by architecture.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
# The host files every session sees (read-only) besides the interpreter: the C libraries that
# extension modules and a re-executed interpreter load, the loader's cache, and a shell for os.system.
SYSTEM_PATHS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache", "/bin/sh")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


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


@dataclass(frozen=True)
class Scratch:
    """The session's private tmpfs: its size and how many files and directories it may hold."""

    size_bytes: int
    inodes: int

    def options(self, uid: int, gid: int) -> str:
        return f"size={self.size_bytes},nr_inodes={self.inodes},mode=0700,uid={uid},gid={gid}"


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


def enter_minimal_root(
    visible: tuple[str, ...], scratch: Scratch, owner: tuple[int, int], own_proc: bool
) -> str:
    """Make a new, read-only root holding only `visible` (read-only binds of host paths), a few
    devices, /proc, and the scratch tmpfs on /tmp (also at /var/tmp and /dev/shm); pivot into it.

    Returns "/tmp", the session's working directory. Needs a mount namespace.
    """
    binds, links = _graft_plan([*visible, *SYSTEM_PATHS])
    fds = {path: os.open(path, os.O_PATH) for path in [*binds, *DEVICES] if os.path.exists(path)}
    root = PRIVATE_TMP  # any directory will do as the mount point; it is left behind by pivot_root
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    for path in ("/tmp", "/var", "/dev", "/proc"):
        os.makedirs(root + path, mode=0o755, exist_ok=True)
    # First, so that an interpreter below /tmp (a CI clone's virtualenv) is bound on top of it.
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, scratch.options(*owner))
    for path, fd in fds.items():
        target = root + path
        _bind_back(f"/proc/self/fd/{fd}", target)
        os.close(fd)
        if path not in DEVICES:
            remount_read_only(target)
    for link, text in [*links, ("/var/tmp", "../tmp"), ("/dev/shm", "../tmp")]:
        os.makedirs(os.path.dirname(root + link), mode=0o755, exist_ok=True)
        if not os.path.lexists(root + link):
            os.symlink(text, root + link)
    if own_proc:
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    else:
        mount("/proc", root + "/proc", None, MS_BIND | MS_REC)
    remount_read_only(root)
    os.chdir(root)
    _check(_libc.syscall(_SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the host's root")
    os.chdir("/tmp")
    return "/tmp"


def remount_read_only(target: str) -> None:
    """Make the bind mount at `target` read-only, keeping the flags a user namespace locks."""
    kept = 0
    flags = os.statvfs(target).f_flag
    for st_flag, ms_flag in _LOCKED_FLAGS.items():
        if flags & st_flag:
            kept |= ms_flag
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept)


def _graft_plan(paths: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """What to bind (real directories and files, none below another) and which symlinks to recreate
    (real path of the link, its text) so that every one of `paths` resolves in the new root."""
    real: set[str] = set()
    links: dict[str, str] = {}
    for path in paths:
        if not os.path.lexists(path):
            continue
        walked = "/"
        for part in path.strip("/").split("/"):
            walked = os.path.join(walked, part)
            if os.path.islink(walked):
                links[os.path.join(os.path.realpath(os.path.dirname(walked)), part)] = os.readlink(walked)
                walked = os.path.realpath(walked)
        if os.path.exists(walked):
            real.add(walked)
    binds = [p for p in sorted(real) if not any(p.startswith(q.rstrip("/") + "/") for q in real if q != p)]
    return binds, sorted(links.items())


def drop_capabilities() -> None:
    """Give up every capability (the root of a user namespace has them all there) for good."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    _check(_libc.capset(ctypes.byref(header), (_CapData * 2)()), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def mount_private_tmp(owner: tuple[int, int], scratch: Scratch) -> str:
    """Mount a size-limited tmpfs owned by `uid` on /tmp and show it at /var/tmp and /dev/shm too.

    The interpreter's own directories below /tmp (a virtualenv or checkout there, as in a CI clone)
    are bound back in, read-only, so a session can still start `sys.executable`. Returns the session's
    working directory. Needs a mount namespace.
    """
    below = [p for p in interpreter_paths() if p.startswith(PRIVATE_TMP + "/")]
    below = [p for p in below if not any(p.startswith(q + "/") for q in below)]  # parents carry children
    fds = [os.open(path, os.O_PATH) for path in below]  # still reachable until covered
    mount("tmpfs", PRIVATE_TMP, "tmpfs", MS_NOSUID | MS_NODEV, scratch.options(*owner))
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


def session_visible_paths() -> tuple[str, ...]:
    """What a session sees of the host in a minimal root (besides SYSTEM_PATHS): this Python's
    installation and virtual environment, and the sys.path entries the modules imported so far (the
    preloaded packages, the sandbox itself) came from. Not the working directory, not the rest of
    sys.path."""
    paths = {
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
        os.path.dirname(sys.executable),
        os.path.dirname(os.path.realpath(sys.executable)),
        *(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
    }
    entries = sorted((os.path.realpath(p) for p in sys.path if p), key=len, reverse=True)
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            real = os.path.realpath(file)
            paths.update(next(([e] for e in entries if real.startswith(e + "/")), []))
    return tuple(sorted(p for p in paths if p and os.path.exists(p)))


def minimal_root_paths(visible: tuple[str, ...]) -> list[str]:
    """The host paths a session sees in its minimal root (read-only), where they exist."""
    return sorted(p for p in {*visible, *SYSTEM_PATHS} if os.path.lexists(p))


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
    elif name == "minimal_root":
        if not got["mount_namespace"]:
            raise OSError(errno.EPERM, "needs a mount namespace")
        if got["pid_namespace"]:
            unshare(CLONE_NEWPID)
        own_proc = got["private_proc"]
        if not _try_in_child(functools.partial(_minimal_root_works, visible, own_proc)):
            raise OSError(errno.EPERM, "cannot build a minimal root")
    elif name == "network_namespace":
        unshare(CLONE_NEWNET)
    elif name == "ipc_uts_namespaces":
        unshare(CLONE_NEWIPC | CLONE_NEWUTS)
    elif name == "setuid":
        if got["minimal_root"]:
            if got["pid_namespace"]:
                unshare(CLONE_NEWPID)
            if not _try_in_child(functools.partial(_own_uid_works, uid, visible, got["private_proc"])):
                raise PermissionError("cannot switch uid")
            return
        if got["mount_namespace"]:
            unshare(CLONE_NEWNS)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            expose_paths(interpreter_paths())
        drop_privileges(uid)
        if unreadable(interpreter_paths()):
            raise PermissionError("the Python installation is not readable by other users")
    elif name == "seccomp":
        if syscall_filter is None:
            raise OSError(errno.ENOSYS, "no filter")
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        syscall_filter.load()


def _minimal_root_works(visible: tuple[str, ...], own_proc: bool) -> None:
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    enter_minimal_root(visible, Scratch(1 << 20, 64), (os.getuid(), os.getgid()), own_proc)
    if unreadable(list(visible)):
        raise PermissionError("the interpreter is not visible in the minimal root")


def _own_uid_works(uid: int, visible: tuple[str, ...], own_proc: bool) -> None:
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    enter_minimal_root(visible, Scratch(1 << 20, 64), (uid, uid), own_proc)
    drop_privileges(uid)
    if unreadable(list(visible)):
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
