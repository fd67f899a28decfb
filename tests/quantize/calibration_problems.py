"""A few math problems to calibrate on, written as a problem file."""

from __future__ import annotations

import json
from pathlib import Path

PROBLEMS = [
    ("p1", "What is the sum of the first 10 positive integers?", "55"),
    ("p2", "How many primes are less than 20?", "8"),
    ("p3", "Find the remainder when 2^10 is divided by 7.", "2"),
    ("p4", "What is 12 times 13?", "156"),
]


def write_problems(path: Path) -> Path:
    path.write_text(
        "".join(json.dumps({"id": i, "problem": t, "answer": a}) + "\n" for i, t, a in PROBLEMS),
        encoding="utf-8",
    )
    return path
