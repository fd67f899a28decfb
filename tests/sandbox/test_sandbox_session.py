"""Sessions behave like notebook cells: state, shown values, trimmed tracebacks, bounded output."""

import asyncio

import pytest
from pydantic import ValidationError
from sandbox_helpers import run_cells

from aimo.sandbox import ExecResult, Sandbox, SandboxConfig, SandboxError
from aimo.sandbox.result import STATE_LOST_NOTE


def test_state_persists_between_calls(sandbox):
    async def body(sb: Sandbox):
        cells = [
            "x = 6 * 7\ndef f(y):\n    return x + y",
            "print(f(1))",
            "import math\nz = math.factorial(5)",
            "z + x",
        ]
        return await run_cells(sb, *cells)

    results = sandbox(body)
    assert all(r.ok for r in results), results
    assert results[1].stdout == "43\n"
    assert results[3].stdout == "162\n"
    assert not any(r.state_lost for r in results)


def test_final_expression_is_shown_like_a_notebook(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(
            sb, "print('a')\n'b'", "None", "x = 1", "[1, 2][0]\n", "_ + 10", "1; 2", "x  # comment"
        )

    shown = [r.stdout for r in sandbox(body)]
    assert shown == ["a\n'b'\n", "", "", "1\n", "11\n", "2\n", "1\n"]


def test_traceback_has_only_the_users_frames(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(sb, "def f(n):\n    return 1 // n", "y = 2\nf(0)")

    result = sandbox(body)[1]
    assert result.error is not None and not result.ok and not result.killed
    assert result.error.startswith("Traceback (most recent call last):\n")
    assert 'File "<cell 2>", line 2' in result.error
    assert 'File "<cell 1>", line 2, in f' in result.error and "return 1 // n" in result.error
    assert result.error.rstrip().endswith("ZeroDivisionError: integer division or modulo by zero")
    assert "aimo" not in result.error and "worker" not in result.error


def test_library_frames_below_the_users_code_are_kept(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(sb, "import fractions\nfractions.Fraction(1, 0)")

    error = sandbox(body)[0].error
    assert '"<cell 1>"' in error and "fractions.py" in error and "ZeroDivisionError" in error


def test_syntax_error(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(sb, "x = = 1", "print('still fine')")

    bad, good = sandbox(body)
    assert 'File "<cell 1>", line 1' in bad.error and "SyntaxError: invalid syntax" in bad.error
    assert "Traceback" not in bad.error
    assert good.stdout == "still fine\n"


def test_output_of_children_and_c_code_is_captured(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            "import os, subprocess, sys\nprint('py')\nos.system('echo shell')\n"
            "subprocess.run([sys.executable, '-c', 'import sys; sys.stderr.write(\"child err\\\\n\")'])\n"
            "os.write(1, b'raw\\n')\nprint('warn', file=sys.stderr)",
        )

    result = sandbox(body)[0]
    assert result.ok, result
    assert result.stdout == "py\nshell\nraw\n"
    assert result.stderr == "child err\nwarn\n"


def test_long_output_keeps_head_and_tail(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(sb, "for i in range(100_000):\n    print(i)")

    result = sandbox(body)[0]
    assert result.ok and result.truncated
    assert result.stdout.startswith("0\n1\n2\n")
    assert result.stdout.endswith("99998\n99999\n")
    assert "bytes omitted] ..." in result.stdout
    assert len(result.stdout) < 2 * sandbox.sandbox.config.output_limit_bytes


def test_huge_error_message_is_bounded(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(sb, "raise ValueError('x' * 10_000_000)")

    result = sandbox(body)[0]
    assert "characters omitted" in result.error and result.error.rstrip().endswith("x")
    assert len(result.error) < 2 * sandbox.sandbox.config.output_limit_bytes


def test_big_integers_print_in_full(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(sb, "len(str(7 ** 20000))")

    assert sandbox(body)[0].stdout == "16902\n"


def test_calls_on_one_session_run_in_turn(sandbox):
    async def body(sb: Sandbox):
        async with await sb.session() as session:
            await session.run("log = []")
            cells = [f"log.append({i}); import time; time.sleep(0.01); log.append({i})" for i in range(5)]
            await asyncio.gather(*(session.run(cell) for cell in cells))
            return await session.run("log")

    log = eval(sandbox(body).stdout)
    assert len(log) == 10 and sorted(set(log)) == [0, 1, 2, 3, 4]
    assert all(log[k] == log[k + 1] for k in range(0, 10, 2)), log  # no cell interleaved with another


def test_closed_session_refuses_calls(sandbox):
    async def body(sb: Sandbox):
        session = await sb.session()
        async with session:
            assert (await session.run("1")).stdout == "1\n"
        assert session.closed
        await session.close()  # twice is fine
        with pytest.raises(SandboxError):
            await session.run("1")

    sandbox(body)


def test_cancelled_call_loses_only_its_process(sandbox):
    async def body(sb: Sandbox):
        async with await sb.session() as session:
            await session.run("x = 1")
            task = asyncio.ensure_future(session.run("print('started', flush=True)\nwhile True: pass"))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await session.run("x")

    after = sandbox(body)
    assert after.state_lost and "NameError" in after.error


def test_unstarted_sandbox_and_bad_config_are_errors():
    with pytest.raises(SandboxError):
        asyncio.run(Sandbox().session())
    with pytest.raises(ValidationError):
        SandboxConfig(timeout_s=5, no_such_limit=1)
    with pytest.raises(ValidationError):
        SandboxConfig(warm_sessions=10, max_sessions=2)
    assert SandboxConfig(timeout_s=7).call_cpu_s(7) == 7
    assert SandboxConfig(cpu_time_s=2).call_cpu_s(7) == 2


def test_model_text_form():
    assert ExecResult().to_model_text() == ""
    assert ExecResult(stdout="42\n").to_model_text() == "42"
    text = ExecResult(stdout="a\n", stderr="w\n", error="Traceback...\nKeyError: 1\n").to_model_text()
    assert text == "a\nw\nTraceback...\nKeyError: 1"
    timeout = "TimeoutError: the code ran longer than 1 s and was stopped"
    lost = ExecResult(error=timeout, timed_out=True, killed=True, state_lost=True)
    assert lost.to_model_text() == f"{timeout} {STATE_LOST_NOTE}"
    assert ExecResult(stdout="1\n", state_lost=True).to_model_text() == f"1\n{STATE_LOST_NOTE}"
    long = ExecResult(stdout="s" * 10_000, error="E" * 100).to_model_text(max_chars=500)
    assert len(long) <= 500 and long.startswith("sss") and long.endswith("E" * 100)
    assert "characters omitted" in long


def test_multiprocessing_and_subprocesses_work(sandbox):
    async def body(sb: Sandbox):
        return await run_cells(
            sb,
            "def square(x):\n    return x * x",
            "import multiprocessing\nwith multiprocessing.Pool(2) as pool:\n"
            "    print(pool.map(square, range(5)))",
            "import subprocess, sys\n"
            "subprocess.run([sys.executable, '-c', 'import sympy; print(sympy.sqrt(8))'],\n"
            "               capture_output=True, text=True).stdout",
        )

    _, pooled, child = sandbox(body)
    assert pooled.stdout == "[0, 1, 4, 9, 16]\n", pooled
    assert child.stdout == "'2*sqrt(2)\\n'\n", child
