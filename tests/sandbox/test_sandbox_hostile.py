"""Hostile code never takes the harness down: each case returns a result and the pool keeps serving.

Every case runs in a fresh session, which must then still answer (in a new process if the old one
died), and after close no process of the session may be left.
"""

from collections.abc import Callable
from pathlib import Path

import pytest
from sandbox_helpers import processes_of, until_served

from aimo.sandbox import ExecResult, Sandbox


def died(fragment: str) -> Callable[[ExecResult], bool]:
    assert fragment, "say how it died"
    return lambda r: r.killed and r.state_lost and r.error is not None and fragment in r.error


def raised(fragment: str) -> Callable[[ExecResult], bool]:
    assert fragment, "say what it raised"
    return lambda r: not r.killed and not r.state_lost and r.error is not None and fragment in r.error


def printed(text: str) -> Callable[[ExecResult], bool]:
    return lambda r: r.ok and r.stdout == text


DAEMON = """\
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
os.wait()
print('parent done')"""

SOCKET_GARBAGE = """\
import os, stat
for fd in range(3, 64):
    try:
        if stat.S_ISSOCK(os.fstat(fd).st_mode):
            os.write(fd, b'\\xff' * 64 + b'not a frame')
    except OSError:
        pass"""

CASES = {
    "segfault": ("import ctypes\nctypes.string_at(0)", died("SIGSEGV")),
    "os._exit": ("import os\nos._exit(3)", died("exited with code 3")),
    "sys.exit": ("import sys\nsys.exit(1)", raised("SystemExit: 1")),
    "KeyboardInterrupt": ("raise KeyboardInterrupt", raised("KeyboardInterrupt")),
    # The session is pid 1 of its namespace: the kernel drops signals from inside that it has no
    # handler for (SIGKILL included); its parent is pid 0, its process group its own. SIGINT is
    # ignored everywhere (the harness decides when sessions stop).
    "kill parent": (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('alive')",
        printed("alive\n"),
    ),
    "SIGINT to group": ("import os, signal\nos.killpg(0, signal.SIGINT)\nprint('alive')", printed("alive\n")),
    "SIGTERM to group": (
        "import os, signal\nos.killpg(0, signal.SIGTERM)\nprint('alive')",
        printed("alive\n"),
    ),
    # Every process it may signal but itself and pid 1: none.
    "kill -9 -1": ("import os, signal\nos.kill(-1, signal.SIGKILL)", raised("ProcessLookupError")),
    "read stdin": ("input()", raised("EOFError")),
    "read stdin to end": ("import sys\nprint(repr(sys.stdin.read()))", printed("''\n")),
    "binary garbage": (
        "import os\nos.write(1, bytes(range(256)) * 4)",
        lambda r: r.ok and "\ufffd" in r.stdout,
    ),
    "close fd 1": ("import os\nos.close(1)\nprint('lost')", raised("Bad file descriptor")),
    "close sys.stdout": ("import sys\nsys.stdout.close()", printed("")),
    "close every fd": ("import os\nos.closerange(0, 4096)", died("exited with code 72")),
    "garbage on the socket": (SOCKET_GARBAGE, died("a message it did not ask for")),
    "thread left running": (
        "import threading\nthreading.Thread(target=lambda: [0 for _ in iter(int, 1)], daemon=True).start()",
        printed(""),
    ),
    "daemonized grandchild": (DAEMON, printed("parent done\n")),
    "recursion": ("def f(n):\n    return f(n + 1)\nf(0)", raised("RecursionError")),
    "become root": ("import os\nos.setuid(0)", raised("PermissionError")),
    "raise own limits": (
        "import resource\nresource.setrlimit(resource.RLIMIT_NPROC, (10**6, 10**6))",
        raised("Error"),
    ),
    "write harness files": (f"open({str(Path(__file__))!r}, 'a')", raised("Error: [Errno")),
}

# What a case's expected outcome relies on (any one of them).
NEEDS = {
    "become root": ("setuid",),
    "write harness files": ("setuid", "minimal_root"),
    "kill parent": ("pid_namespace",),
    "SIGTERM to group": ("pid_namespace",),
    "kill -9 -1": ("pid_namespace",),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_code_is_contained(sandbox, name):
    code, expected = CASES[name]
    needs = NEEDS.get(name, ())
    if needs and not any(sandbox.sandbox.isolation[feature] for feature in needs):
        pytest.skip(f"no {' or '.join(needs)} here: the outcome differs")

    async def body(sb: Sandbox):
        session = await sb.session()
        uid = session.uid
        result = await session.run(code, timeout=20)
        again = await until_served(session, "print('served')\n1 + 1")
        await session.close()
        return uid, result, again

    uid, result, again = sandbox(body)
    assert expected(result), result
    assert again[-1].ok and again[-1].stdout == "served\n2\n", again
    if uid is not None:
        assert processes_of(uid) == []


def test_output_flood_is_cut_and_stopped(sandbox):
    async def body(sb: Sandbox):
        async with await sb.session() as session:
            return await session.run("while True:\n    print('spam' * 100)", timeout=1.5)

    result = sandbox(body)
    assert result.timed_out and result.truncated and result.stdout.startswith("spam")
    assert len(result.stdout) < 2 * sandbox.sandbox.config.output_limit_bytes
