"""The progress display of long commands (solve on a file, eval), on stderr, and what their summary says."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aimo.solve.types import ProblemResult


def progress_bar(console: Console) -> Progress:
    """Description, bar, done/total and elapsed time; kept on screen when finished."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def lost_samples(results: Iterable[ProblemResult]) -> str:
    """`; 3 of 24 samples lost to engine errors`, or "" when none was lost."""
    samples = [s for r in results for s in r.samples]
    lost = sum(s.finish_reason == "error" for s in samples)
    return f"; {lost} of {len(samples)} samples lost to engine errors" if lost else ""
