"""Isolation: own uid, no network, private /proc and /tmp, no harness secrets; graceful degradation."""

import ast
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_helpers import LIGHT, run_cells, run_cells_with, run_with, until_served

from aimo.sandbox import Sandbox, SandboxConfig
from aimo.sandbox.rootfs import interpreter_paths

AIMO = Path(sys.executable).parent / "aimo"

SECRET_HUNT = """\
import os
secret = 'hunter2-' + 'aimo-test'
found = [k for k, v in os.environ.items() if secret in v]
readable = 0
for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self', str(os.getppid())]:
    try:
        data = open(f'/proc/{pid}/environ', 'rb').read()
    except OSError:
        continue
    readable += 1
    if secret.encode() in data:
        found.append(pid)
print(found)
"""


def require(sandbox, feature: str) -> None:
    if not sandbox.sandbox.isolation[feature]:
        pytest.skip(f"{feature} is not available on this machine")


def test_sessions_run_as_their_own_unprivileged_uid(sandbox):
    require(sandbox, "setuid")

    async def body(sb: Sandbox):
        async with await sb.session() as one, await sb.session() as two:
            code = "import os\nos.getuid(), os.getgid(), os.getgroups()"
            return one.uid, await one.run(code), two.uid, await two.run(code)

    uid_one, one, uid_two, two = sandbox(body)
    assert one.stdout == f"({uid_one}, {uid_one}, [])\n" and two.stdout == f"({uid_two}, {uid_two}, [])\n"
    assert uid_one != uid_two and 0 not in (uid_one, uid_two)


def test_network_is_unreachable(sandbox):
    require(sandbox, "network_namespace")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            "except OSError as e:\n    print('local:', type(e).__name__)",
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=5)\n"
            "except OSError as e:\n    print('remote:', e.errno)",
            "[name for _, name in socket.if_nameindex()]",
        )

    try:
        local, remote, interfaces = sandbox(body)
    finally:
        server.close()
    assert local.stdout.startswith("local: ")
    assert remote.stdout == "remote: 101\n"  # ENETUNREACH
    assert interfaces.stdout == "['lo']\n"


def test_proc_shows_only_the_sessions_processes(sandbox):
    require(sandbox, "private_proc")

    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            "import os\nos.getpid(), os.getppid(), [p for p in os.listdir('/proc')\n"
            "                                   if p.isdigit()]",
        )

    assert sandbox(body)[0].stdout == "(1, 0, ['1'])\n"


def test_private_tmp_is_invisible_to_the_host_and_gone_after_close(sandbox):
    require(sandbox, "mount_namespace")
    marker = f"aimo-sandbox-test-{os.getpid()}"

    async def body(sb: Sandbox):
        write = f"import os\nopen('/tmp/{marker}', 'w').write('x')\nos.getcwd(), os.listdir('/tmp')"
        first = await run_cells(sb, write)
        second = await run_cells(sb, "import os\nos.listdir('/tmp')")
        return first + second

    first, second = sandbox(body)
    # A Python installed below /tmp (a CI clone's virtualenv) is bound back in, read-only.
    shown = sandbox.sandbox.visible_paths or interpreter_paths()
    own = {p.split("/")[2] for p in shown if p.startswith("/tmp/")}
    cwd, listing = ast.literal_eval(first.stdout)
    assert cwd == "/tmp" and set(listing) == {marker} | own
    assert not Path("/tmp", marker).exists()
    assert set(ast.literal_eval(second.stdout)) == own


def test_harness_secrets_are_invisible(tmp_path):
    if not AIMO.exists():
        pytest.skip(f"no aimo console script next to {sys.executable}")
    script = tmp_path / "hunt.py"
    script.write_text(SECRET_HUNT)
    env = {**os.environ, "AIMO_TEST_SECRET": "hunter2-aimo-test"}
    out = subprocess.run(
        [str(AIMO), "sandbox", "run", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["error"] is None, result
    assert result["stdout"] == "[]\n"


def test_without_namespaces_the_workdir_is_a_host_directory_removed_on_close(caplog):
    config = SandboxConfig(**LIGHT, namespaces=False)

    async def body(sb: Sandbox):
        session = await sb.session()
        workdir = Path(session.workdir)
        result = await session.run("import os\nopen('note', 'w').write('x')\nos.getcwd()")
        existed = (workdir / "note").exists()
        await session.close()
        return sb.isolation, workdir, result, existed

    with caplog.at_level(logging.WARNING, logger="aimo.sandbox"):
        isolation, workdir, result, existed = run_with(config, body)
    assert result.stdout == f"{str(workdir)!r}\n" and existed
    assert not workdir.exists()
    assert not isolation["mount_namespace"] and not isolation["pid_namespace"]
    if not isolation["setuid"]:  # e.g. a Python under /root, unreadable to other uids without a mount ns
        assert any("per-session uid" in record.message for record in caplog.records)


def test_degraded_mode_still_contains_and_cleans_up():
    """No namespaces, no uid change: the weakest mode still survives hostile code and cleans up."""
    config = SandboxConfig(**LIGHT, namespaces=False, drop_privileges=False, isolate_network=False)
    daemon = (
        "import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        os.write(w, str(os.getpid()).encode())\n        time.sleep(1000)\n    os._exit(0)\n"
        "os.wait()\nint(os.read(r, 64))"
    )

    async def body(sb: Sandbox):
        session = await sb.session()
        results = [await session.run(code) for code in ("x = 1", daemon)]
        results.append(await session.run("while True: pass", timeout=1))
        await session.run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
        results.append(await until_served(session, "'still here'"))
        await session.close()
        return results

    _, daemon_result, timed_out, after = run_with(config, body)
    assert daemon_result.ok, daemon_result
    grandchild = int(daemon_result.stdout)
    assert timed_out.timed_out and timed_out.state_lost
    # Killing its supervisor kills the session (when the kernel gets to it); the harness goes on.
    assert after[-1].stdout == "'still here'\n" and all(r.state_lost for r in after[:-1])
    with pytest.raises(ProcessLookupError):
        os.kill(grandchild, 0)


def test_an_ordinary_user_gets_namespaces_from_a_user_namespace(sandbox):
    """Run as a non-root user (CI does): where the kernel lets that user make namespaces, sessions
    get them all; only the per-session uid needs root."""
    if os.geteuid() == 0:
        pytest.skip("runs as an ordinary user (.ci/run runs the sandbox suite as one)")
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) here to ask the kernel")
    if subprocess.run(["unshare", "-Urpmn", "--fork", "true"], capture_output=True).returncode != 0:
        pytest.skip("this kernel refuses unprivileged user namespaces")
    isolation = sandbox.sandbox.isolation
    assert isolation == {**dict.fromkeys(isolation, True), "setuid": False}, isolation


def test_without_namespaces_sessions_cannot_trace_the_harness():
    """The weakest mode (no namespaces, the harness's own uid) still keeps ptrace away from the
    supervisor, the template and the harness: the seccomp filter refuses it."""
    config = SandboxConfig(**LIGHT, namespaces=False, drop_privileges=False, isolate_network=False)
    attach = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.ptrace.restype = ctypes.c_long\n"
        "PTRACE_ATTACH = 16\nlibc.ptrace(PTRACE_ATTACH, os.getppid(), 0, 0), ctypes.get_errno()"
    )

    assert run_cells_with(config, attach, needs="seccomp")[0].stdout == "(-1, 1)\n"  # EPERM
