"""`SandboxConfig`: every limit and pool setting of the sandbox (the `[sandbox]` TOML section)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Sessions one template process can have alive at once (running or idle); each gets its own uid.
MAX_SLOTS = 256

DEFAULT_PRELOAD = [
    "math",
    "cmath",
    "fractions",
    "decimal",
    "itertools",
    "functools",
    "collections",
    "numpy",
    "sympy",
]


class SandboxConfig(BaseModel):
    """Limits per call and per session, isolation switches, and warm-pool settings.

    Sizes are in MiB, times in seconds. `None` means "no limit" where a limit is optional.
    """

    model_config = ConfigDict(extra="forbid")

    # -- limits of one `Session.run` call
    timeout_s: float = Field(10.0, gt=0, description="Wall-clock limit; on expiry the session is killed.")
    cpu_time_s: float | None = Field(
        None, gt=0, description="CPU seconds (RLIMIT_CPU); None: the call's wall-clock timeout."
    )
    output_limit_bytes: int = Field(
        32_768, ge=256, description="Kept per stream (head and tail); the middle is cut and marked."
    )

    # -- limits of the session process and everything it starts
    memory_mb: int | None = Field(
        2048, ge=16, description="Address space the code may add on top of the preloaded interpreter."
    )
    max_processes: int | None = Field(64, ge=4, description="Processes + threads (RLIMIT_NPROC, own uid).")
    max_file_mb: int | None = Field(64, ge=1, description="Largest file the code may write (RLIMIT_FSIZE).")
    disk_mb: int = Field(256, ge=1, description="Size of the private tmpfs (only with a mount namespace).")
    disk_files: int = Field(
        10_000, ge=64, description="Files and directories the private tmpfs can hold (its nr_inodes)."
    )
    max_open_files: int = Field(256, ge=32, description="RLIMIT_NOFILE.")
    session_cpu_s: float | None = Field(
        600.0,
        gt=0,
        description="CPU seconds over a whole session, all its processes together (counted by the "
        "sandbox, and the hard RLIMIT_CPU of each); None: no cap.",
    )
    int_max_str_digits: int = Field(
        0, ge=0, description="sys.set_int_max_str_digits in sessions; 0: no limit (competition math)."
    )

    # -- isolation (each degrades with a logged warning where the OS refuses it)
    isolate_network: bool = Field(True, description="New network namespace: no interfaces but a down lo.")
    namespaces: bool = Field(True, description="PID, mount, IPC and UTS namespaces; private /proc and /tmp.")
    user_namespace: bool = Field(
        True, description="Without root, get the namespaces from an unprivileged user namespace."
    )
    minimal_root: bool = Field(
        True,
        description="With a mount namespace, show only the interpreter, its libraries and the preloaded "
        "packages (read-only) and the private /tmp; False: the host's whole file system.",
    )
    seccomp: bool = Field(True, description="Refuse system calls math code never needs (needs pyseccomp).")
    drop_privileges: bool = Field(True, description="Run each session as its own uid (needs root).")
    uid_base: int | None = Field(
        None, ge=1000, description="First uid of this sandbox's sessions; None: derived from the pid."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of the sessions.")

    # -- pool
    preload: list[str] = Field(default_factory=lambda: list(DEFAULT_PRELOAD))
    warm_sessions: int = Field(4, ge=0, le=MAX_SLOTS, description="Idle sessions kept forked and ready.")
    max_sessions: int = Field(
        128, ge=1, le=MAX_SLOTS, description="Sessions alive at once (idle ones included); more wait."
    )
    start_timeout_s: float = Field(120.0, gt=0, description="Time allowed for the template to preload.")
    python: str | None = Field(None, description="Interpreter of the template; None: the harness's.")
    workdir_root: str | None = Field(
        None, description="Where per-session directories go without a mount namespace; None: TMPDIR."
    )

    @model_validator(mode="after")
    def _check_pool(self) -> SandboxConfig:
        if self.warm_sessions > self.max_sessions:
            raise ValueError("warm_sessions cannot exceed max_sessions")
        return self

    def call_cpu_s(self, timeout_s: float) -> float:
        """CPU seconds allowed to one call whose wall-clock timeout is `timeout_s`."""
        return self.cpu_time_s if self.cpu_time_s is not None else timeout_s
