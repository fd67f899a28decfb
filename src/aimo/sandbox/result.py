"""`ExecResult`: what one `Session.run` call produced, and the text that goes back to the model."""

from __future__ import annotations

from dataclasses import dataclass

from aimo.sandbox.output import trim_middle

STATE_LOST_NOTE = "(state was lost: the session restarted, earlier variables are gone)"


@dataclass(frozen=True)
class ExecResult:
    """The outcome of running one code block in a session.

    `error` is the trimmed traceback when the code raised (only frames of the user's code and what it
    called), or a one-line explanation when the sandbox stopped it (timeout, crash).
    """

    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    timed_out: bool = False
    memory_exceeded: bool = False
    killed: bool = False
    duration_s: float = 0.0
    truncated: bool = False
    state_lost: bool = False

    @property
    def ok(self) -> bool:
        """True when the code ran to its end without raising or being stopped."""
        return self.error is None and not self.timed_out and not self.killed

    def to_model_text(self, max_chars: int = 4000) -> str:
        """The text shown to the model: stdout, then stderr, then the error; at most `max_chars`.

        Parts are joined by newlines; empty parts are left out, so a silent success gives "". When the
        session restarted, STATE_LOST_NOTE follows the error (or stands alone). When the whole is too
        long its middle is cut and marked, keeping the start and the error at the end.
        """
        error = self.error or ""
        if self.state_lost:
            error = f"{error} {STATE_LOST_NOTE}" if error else STATE_LOST_NOTE
        parts = [part.rstrip("\n") for part in (self.stdout, self.stderr, error) if part]
        return trim_middle("\n".join(parts), max_chars)
