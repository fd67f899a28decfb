"""Evaluation: runs over datasets with repeats or competition orders, metrics with intervals, reports.

    >>> from aimo.evaluate import EvalRequest, start, execute, analyze, write_report
    >>> session = start(EvalRequest("problems.jsonl", config))      # doctest: +SKIP
    >>> asyncio.run(execute(session))                                # doctest: +SKIP
    >>> write_report(session.run.path)                               # doctest: +SKIP

Modules: `datasets` (what DATASET names), `rundir` (the run directory and resuming), `runner`
(repeats through `solve_problems`), `metrics` (pure functions), `answerpos` (where answers first
appear), `competition`, `analysis`, `report` (+ `templates/`, `svg`), `compare`, `session`.
"""

from aimo.evaluate.analysis import Analysis, analyze
from aimo.evaluate.compare import Comparison, compare_runs, render_comparison
from aimo.evaluate.datasets import KNOWN_DATASETS, Dataset, DatasetError, resolve_dataset
from aimo.evaluate.launch import EvalRequest, Session, execute, resume, start
from aimo.evaluate.metrics import Estimate, Summary, maj_at_k, pass_at_k, summarize
from aimo.evaluate.report import render_html, render_markdown, write_report
from aimo.evaluate.rundir import RunDir, RunDirError, RunInfo

__all__ = [
    "KNOWN_DATASETS",
    "Analysis",
    "Comparison",
    "Dataset",
    "DatasetError",
    "Estimate",
    "EvalRequest",
    "RunDir",
    "RunDirError",
    "RunInfo",
    "Session",
    "Summary",
    "analyze",
    "compare_runs",
    "execute",
    "maj_at_k",
    "pass_at_k",
    "render_comparison",
    "render_html",
    "render_markdown",
    "resolve_dataset",
    "resume",
    "start",
    "summarize",
    "write_report",
]
