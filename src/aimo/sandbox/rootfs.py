"""What a session sees of the host's file system: a minimal read-only root (the interpreter and its
libraries) or the host's own, and its private, size-limited scratch tmpfs. Needs a mount namespace;
runs in the session process before any user code."""

from __future__ import annotations

import os
import stat
import sys
import sysconfig
from dataclasses import dataclass

from aimo.sandbox.syscalls import (
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    mount,
    pivot_root,
    umount_detached,
)

# Directories anyone may write to; with a mount namespace they all show the session's own tmpfs.
PRIVATE_TMP = "/tmp"
SHARED_TMP_DIRS = ("/var/tmp", "/dev/shm")
# The host files every session sees (read-only) besides the interpreter: the C libraries that
# extension modules and a re-executed interpreter load, the loader's cache, and a shell for os.system.
SYSTEM_PATHS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache", "/bin/sh")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# statvfs flags of a mount that a remount inside a user namespace must keep (they are locked).
_LOCKED_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}


@dataclass(frozen=True)
class Scratch:
    """The session's private tmpfs: its size and how many files and directories it may hold."""

    size_bytes: int
    inodes: int

    def options(self, uid: int, gid: int) -> str:
        return f"size={self.size_bytes},nr_inodes={self.inodes},mode=0700,uid={uid},gid={gid}"


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
    pivot_root(".", ".")
    umount_detached(".")  # the host's root, now stacked on top
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
