"""What a red team found (issue 14), each closed: host files, memory bypasses, forged answers, CPU
spent outside a call, kernel surface, output lost in C code, leftovers of a killed template."""

import ast
import os
import platform
import signal
import socket
from pathlib import Path

import pytest
from sandbox_helpers import LIGHT, run_cells, run_cells_with, run_with, template_pids, unavailable

from aimo.sandbox import Sandbox, SandboxConfig


def require(sandbox, feature: str) -> None:
    if not sandbox.sandbox.isolation[feature]:
        pytest.skip(unavailable(feature))


@pytest.fixture
def host_dir():
    """A directory of the host that everyone may enter and write (like /run/lock), outside /tmp."""
    base = Path.cwd() if os.access(Path.cwd(), os.W_OK) else Path.home()
    path = base / f".aimo-sandbox-host-{os.getpid()}"
    path.mkdir(mode=0o777, exist_ok=True)
    path.chmod(0o1777)
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def test_host_directories_are_neither_writable_nor_readable(sandbox, host_dir):
    require(sandbox, "minimal_root")
    (host_dir / "answers.json").write_text('{"1": 42}')
    (host_dir / "answers.json").chmod(0o644)

    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            f"open({str(host_dir / 'answers.json')!r}).read()",
            f"open({str(host_dir / 'from-session')!r}, 'w').write('x')",
            "import os\nsorted(os.listdir('/'))",
        )

    read, write, listing = sandbox(body)
    assert "FileNotFoundError" in read.error and "FileNotFoundError" in write.error
    assert not (host_dir / "from-session").exists()
    own = {"dev", "proc", "tmp", "var"}
    assert set(ast.literal_eval(listing.stdout)) == own | {
        p.split("/")[1] for p in sandbox.sandbox.visible_paths
    }


def test_only_the_private_tmp_is_writable(sandbox):
    require(sandbox, "minimal_root")
    probe = (
        "import os\nwritable = []\nfor top in ['/', '/usr/lib', '/dev', '/var', '/etc', '/proc']:\n"
        "    try:\n        open(os.path.join(top, 'x'), 'w').close()\n        writable.append(top)\n"
        "    except OSError:\n        pass\nwritable"
    )

    async def body(sb: Sandbox):
        return await run_cells(sb, probe)

    assert sandbox(body)[0].stdout == "[]\n"


def test_host_unix_sockets_are_unreachable(sandbox, host_dir):
    require(sandbox, "minimal_root")
    path = host_dir / "service.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o777)
    server.listen()

    async def body(sb: Sandbox):
        return await run_cells(
            sb, f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})\n'connected'"
        )

    try:
        result = sandbox(body)[0]
    finally:
        server.close()
    assert result.error is not None and "FileNotFoundError" in result.error, result


def test_shared_memory_and_memfd_are_refused(sandbox):
    require(sandbox, "seccomp")
    shm = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "ident = libc.shmget(0, 400 << 20, 0o1600)\nident, ctypes.get_errno()"
    )

    async def body(sb: Sandbox):
        return await run_cells(sb, shm, "import os\nos.memfd_create('big')")

    shared, memfd = sandbox(body)
    assert shared.stdout == "(-1, 1)\n"  # EPERM
    assert "PermissionError" in memfd.error


def test_the_private_tmp_holds_a_bounded_number_of_files():
    config = SandboxConfig(**LIGHT, disk_files=200)
    flood = (
        "import os\nmade = 0\ntry:\n    for i in range(10_000):\n        open(f'f{i}', 'w').close()\n"
        "        made += 1\nexcept OSError as e:\n    print(e.strerror)\nmade < 200"
    )

    result = run_cells_with(config, flood, needs="mount_namespace")[0]
    assert result.stdout == "No space left on device\nTrue\n"


# A cell that finds its session's socket and the request it is running, as an attacker would.
FORGER = """\
import json, os, stat, struct, sys, threading, time
frame = sys._getframe()
while 'request' not in frame.f_locals:
    frame = frame.f_back
request = frame.f_locals['request']
sock = next(fd for fd in range(3, 64) if stat.S_ISSOCK(os.fstat(fd).st_mode))

def forge(delay, seq, stdout):
    time.sleep(delay)
    body = json.dumps({"op": "result", "seq": seq, "nonce": request.get("nonce"), "stdout": stdout,
                       "stderr": "", "error": None, "truncated": False}).encode()
    os.write(sock, struct.pack('!I', len(body)) + body)
"""


def test_a_forged_answer_for_the_next_call_ends_the_session(sandbox):
    async def body(sb: Sandbox):
        async with await sb.session() as session:
            plant = (
                FORGER
                + "threading.Thread(target=forge, args=(0.3, request.get('seq', 0) + 1, 'forged\\n')).start()"
            )
            first = await session.run(plant)
            await __import__("asyncio").sleep(1)
            return first, await session.run("print('real')")

    first, second = sandbox(body)
    assert first.ok
    assert second.stdout == "real\n" and second.state_lost


def test_forged_output_cannot_pass_the_output_limit(sandbox):
    limit = sandbox.sandbox.config.output_limit_bytes

    async def body(sb: Sandbox):
        async with await sb.session() as session:
            code = FORGER + f"forge(0, request.get('seq'), 'x' * {4 * limit})\ntime.sleep(1)"
            return await session.run(code)

    result = sandbox(body)
    assert len(result.stdout) <= limit and "x" * 1000 not in result.stdout


def test_a_session_flooding_the_harness_with_messages_is_stopped(sandbox):
    flood = """\
import os, stat, struct, time
sock = next(fd for fd in range(3, 64) if stat.S_ISSOCK(os.fstat(fd).st_mode))
frame = b'{"op":"partial"}'
for _ in range(2000):
    os.write(sock, struct.pack('!I', len(frame)) + frame)
time.sleep(3)
print('kept running')
"""

    async def body(sb: Sandbox):
        async with await sb.session() as session:
            return await session.run(flood)

    result = sandbox(body)
    assert result.killed and result.state_lost and "did not ask for" in result.error, result
    assert "kept running" not in result.stdout


def test_the_cpu_hard_limit_cannot_be_lifted(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            "import resource\ntry:\n    resource.setrlimit(resource.RLIMIT_CPU, (-1, -1))\n"
            "except (ValueError, OSError) as e:\n    print(type(e).__name__)",
        )

    assert sandbox(body)[0].stdout in ("ValueError\n", "PermissionError\n")


SPINNERS = """\
import os, resource, signal
pids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        while True:
            pass
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
print('all done')
"""


def test_cpu_of_all_a_sessions_processes_is_counted_together():
    """Three children that ignore SIGXCPU each stay under the per-process limit, not together."""

    async def body(sb: Sandbox):
        return await run_cells(sb, SPINNERS)

    result = run_with(SandboxConfig(**LIGHT, session_cpu_s=2), body)[0]
    assert result.killed and "used up its CPU time" in result.error, result


def test_kernel_surface_is_refused(sandbox):
    require(sandbox, "seccomp")
    if platform.machine() != "x86_64":
        pytest.skip("the syscall numbers below are x86_64's")
    probe = """\
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(result):
    return ctypes.get_errno() if result == -1 else 0
refused = {
    'unshare(CLONE_NEWUSER)': errno_of(libc.unshare(0x10000000)),
    'io_uring_setup': errno_of(libc.syscall(425, 8, ctypes.create_string_buffer(120))),
    'add_key': errno_of(libc.syscall(248, b'user', b'k', b'v', 1, -2)),
    'keyctl': errno_of(libc.syscall(250, 0, -2, 0)),
}
r, w = os.pipe()
if os.fork() == 0:
    os.write(w, bytes([errno_of(libc.unshare(0x10000000 | 0x20000))]))
    os._exit(0)
os.wait()
refused['unshare in a child'] = os.read(r, 1)[0]
refused
"""

    async def body(sb: Sandbox):
        return await run_cells(sb, probe)

    assert ast.literal_eval(sandbox(body)[0].stdout) == dict.fromkeys(
        ["unshare(CLONE_NEWUSER)", "io_uring_setup", "add_key", "keyctl", "unshare in a child"], 1
    )


def test_output_before_a_timeout_is_kept_while_c_code_holds_the_gil(sandbox):
    async def body(sb: Sandbox):
        async with await sb.session() as session:
            code = "import re\nprint('before', flush=True)\nre.match(r'(a|aa)*c', 'a' * 60)"
            return await session.run(code, timeout=1.5)

    result = sandbox(body)
    assert result.timed_out and result.stdout == "before\n"


def test_killing_the_template_leaves_no_directory_behind():
    others = set(template_pids())

    async def body(sb: Sandbox):
        async with await sb.session() as session:
            root = Path(session.workdir).parent
        (template,) = set(template_pids()) - others
        os.kill(template, signal.SIGKILL)
        return root

    root = run_with(SandboxConfig(**LIGHT, namespaces=False), body)
    assert root.name.startswith("aimo-sandbox-") and not root.exists()
