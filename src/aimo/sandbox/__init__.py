"""Safe, stateful, fast execution of model-written Python.

    async with Sandbox(SandboxConfig(timeout_s=10)) as sandbox:
        async with await sandbox.session() as session:
            result = await session.run("x = 6 * 7\nx")
            result.stdout               # "42\n": a final bare expression is shown, like a notebook's Out
            result.to_model_text(4000)  # what goes back to the model

Sessions fork from a template process that has already imported the usual modules, so a session
starts in milliseconds; each runs as its own uid (as root) or in a user namespace of its own (as an
ordinary user), in its own PID, mount, network, IPC and UTS namespaces, in a minimal read-only root
under a seccomp filter, where the OS allows (see docs/sandbox.md), with per-call wall-clock and CPU
limits and per-session CPU, memory, process, file-size, disk and output limits.

The text for the model (`ExecResult.to_model_text`) is, joined by newlines, leaving out empty parts:

    stdout                       (head and tail kept, "... [N bytes omitted] ..." where cut)
    stderr
    error                        the traceback from the first frame of the user's code, e.g.
                                   Traceback (most recent call last):
                                     File "<cell 2>", line 1, in <module>
                                   ZeroDivisionError: division by zero
                                 or a line from the sandbox, e.g.
                                   TimeoutError: the code ran longer than 10 s and was stopped
                                   TimeoutError: CPU time limit of 10 s exceeded
                                   SystemError: the process died of SIGSEGV (Segmentation fault)
                                 followed, when the session had to restart, by
                                   (state was lost: the session restarted, earlier variables are gone)

and a silent success is "". The whole is cut in the middle, marked, to at most `max_chars`.
"""

from aimo.sandbox.config import SandboxConfig
from aimo.sandbox.errors import SandboxError
from aimo.sandbox.result import ExecResult
from aimo.sandbox.sandbox import Sandbox
from aimo.sandbox.session import Session

__all__ = ["ExecResult", "Sandbox", "SandboxConfig", "SandboxError", "Session"]
