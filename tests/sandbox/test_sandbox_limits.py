"""Limits per call and per session: wall clock, CPU, memory, processes, file size, disk."""

import pytest
from sandbox_helpers import LIGHT, processes_of, run_cells, run_with

from aimo.sandbox import Sandbox, SandboxConfig


def test_wall_timeout_kills_restarts_and_keeps_what_was_printed(sandbox):
    async def body(sb: Sandbox):
        async with await sb.session() as session:
            results = [await session.run("x = 1")]
            results.append(await session.run("print('before', flush=True)\nwhile True: pass", timeout=1))
            results += [await session.run("x"), await session.run("x = 2\nx")]
            return results

    _, stopped, after, again = sandbox(body)
    assert stopped.timed_out and stopped.killed and stopped.state_lost
    assert stopped.error == "TimeoutError: the code ran longer than 1 s and was stopped"
    assert stopped.stdout == "before\n"
    assert "state was lost" in stopped.to_model_text()
    assert "NameError" in after.error and not after.state_lost
    assert again.ok and again.stdout == "2\n"


def test_cpu_limit_raises_in_the_cell_and_keeps_state():
    async def body(sb: Sandbox):
        return await run_cells(sb, "y = 2", "while True: pass", "y")

    _, spun, after = run_with(SandboxConfig(**LIGHT, cpu_time_s=1), body)
    assert spun.timed_out and not spun.killed and not spun.state_lost
    assert "TimeoutError: CPU time limit of 1 s exceeded" in spun.error
    assert after.stdout == "2\n"


def test_memory_limit_raises_memory_error_and_keeps_state(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            "keep = 'me'",
            "b = bytearray(10**11)",
            "import numpy\na = numpy.ones(10**10)",
            "chunks = []\nwhile True:\n    chunks.append(bytearray(2**24))",
            "del chunks\nkeep",
        )

    _, big, numpy_big, creeping, after = sandbox(body)
    for result in (big, numpy_big, creeping):
        assert result.memory_exceeded and not result.killed and "MemoryError" in result.error
    assert after.stdout == "'me'\n"


FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"


def test_fork_bomb_is_contained_and_cleaned_up(sandbox):
    async def body(sb: Sandbox):
        session = await sb.session()
        uid = session.uid
        bomb = await session.run(FORK_BOMB, timeout=2)
        after = await session.run("'alive'")
        await session.close()
        return uid, bomb, after

    uid, bomb, after = sandbox(body)
    assert bomb.timed_out and bomb.state_lost
    assert after.stdout == "'alive'\n"
    if uid is not None:
        assert processes_of(uid) == []


def test_process_limit(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            "import threading, time\nstop = threading.Event()\nstarted = 0\n"
            "try:\n    for _ in range(1000):\n        threading.Thread(target=stop.wait).start()\n"
            "        started += 1\nexcept RuntimeError as e:\n    print('refused:', e)\nstop.set()\nstarted",
        )

    result = sandbox(body)[0]
    assert "refused: can't start new thread" in result.stdout
    assert int(result.stdout.split()[-1]) < sandbox.sandbox.config.max_processes


def test_file_size_limit(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(
            sb, "with open('big', 'wb') as f:\n    for _ in range(100):\n        f.write(bytes(2**20))"
        )

    error = sandbox(body)[0].error
    assert "OSError: [Errno 27] File too large" in error


def test_disk_limit_with_a_private_tmpfs(sandbox):
    if not sandbox.sandbox.isolation["mount_namespace"]:
        pytest.skip("no mount namespace here: disk use is bounded per file only")

    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            "import os\nfor i in range(100):\n    with open(f'f{i}', 'wb') as f:\n"
            "        f.write(bytes(2**22))",
            "os.remove('f0')\nos.getcwd(), len(os.listdir('/tmp')), os.path.samefile('/tmp', '/dev/shm')",
        )

    full, after = sandbox(body)
    assert "[Errno 28] No space left on device" in full.error
    assert after.ok and after.stdout.startswith("('/tmp', ") and after.stdout.endswith("True)\n")
