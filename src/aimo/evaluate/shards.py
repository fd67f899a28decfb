"""Splitting an evaluation into shards that any scheduler can run, and merging them back.

Shard i of n (`aimo eval --shard i/n`) owns, in evaluation mode, the (repeat r, problem j) runs with
`(r × problems + j) mod n = i` (j: the problem's place in the dataset), and in competition mode the
whole repeats `r mod n = i` (a repeat's time budget spans all its problems). Seeds depend only on
the repeat and the sample, so the union of the shards is the unsharded run. Each shard is an
ordinary run directory (`DIR/shard-i-of-n`), resumable on its own; `merge_shards` checks that the
shards are one experiment, all present and finished, and writes their union as one run directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from aimo.evaluate.rundir import CONFIG_FILE, RunDir, RunDirError, RunInfo, _rewrite, _unique
from aimo.solve.records import read_records

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """`"i/n"` → (i, n), with 0 ≤ i < n."""
    match = _SHARD.match(text.strip())
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise RunDirError(f"--shard takes i/n with 0 ≤ i < n, e.g. 0/4; got {text!r}")
    return int(match[1]), int(match[2])


def shard_dir(out: Path, shard: tuple[int, int]) -> Path:
    """Where shard i of n of the run `out` writes."""
    return out / f"shard-{shard[0]}-of-{shard[1]}"


def owned(info: RunInfo, shard: tuple[int, int]) -> set[tuple[int, str]]:
    """The (repeat, problem id) runs of `info` that `shard` does."""
    i, n = shard
    count = len(info.problem_ids)
    return {
        (r, pid)
        for r in range(info.repeats)
        for j, pid in enumerate(info.problem_ids)
        if (r if info.mode == "competition" else r * count + j) % n == i
    }


def not_owned(info: RunInfo) -> set[tuple[int, str]]:
    """The runs of `info` that other shards do (nothing for an unsharded run)."""
    if info.shard is None:
        return set()
    every = {(r, pid) for r in range(info.repeats) for pid in info.problem_ids}
    return every - owned(info, parse_shard(info.shard))


def find_shards(paths: Iterable[Path]) -> list[Path]:
    """Shard run directories: each path itself when it is one, else its `shard-*-of-*` folders."""
    found: list[Path] = []
    for path in paths:
        if (path / CONFIG_FILE).is_file() and RunDir.open(path).info.shard is not None:
            found.append(path)
        else:
            found += sorted(p for p in path.glob("shard-*-of-*") if (p / CONFIG_FILE).is_file())
    if not found:
        raise RunDirError("no shard directories found in " + ", ".join(str(p) for p in paths))
    return found


def merge_shards(paths: Sequence[Path], out: Path) -> RunDir:
    """Write the union of the shard runs in `paths` (or their `shard-*` folders) as one run in `out`."""
    runs = [RunDir.open(p) for p in find_shards(paths)]
    first = runs[0].info
    n = parse_shard(first.shard or "0/1")[1]
    seen: dict[int, Path] = {}
    for run in runs:
        _check_same_experiment(first, run)
        i, count = parse_shard(run.info.shard or "")
        if count != n or i in seen:
            raise RunDirError(
                f"{run.path}: shard {run.info.shard} does not fit with {seen.get(i, runs[0].path)}"
            )
        seen[i] = run.path
    if missing := sorted(set(range(n)) - set(seen)):
        raise RunDirError(f"shard(s) {', '.join(f'{i}/{n}' for i in missing)} missing from the merge")
    problems, samples = [], []
    for run in runs:
        done = _finished(run)
        unfinished = owned(run.info, parse_shard(run.info.shard or "")) - {
            (r["repeat"], r["problem_id"]) for r in done
        }
        if unfinished:
            raise RunDirError(
                f"{run.path}: {len(unfinished)} problem runs unfinished; "
                f"resume it: aimo eval --resume {run.path}"
            )
        keys = {(r["repeat"], r["problem_id"]) for r in done}
        problems += done
        samples += _unique(
            (s for s in read_records(run.samples_path) if (s["repeat"], s["problem_id"]) in keys),
            lambda s: (s["repeat"], s["problem_id"], s["index"]),
        )
    merged = RunDir.create(out, replace(first, shard=None, command=[*first.command, "# merged"]))
    _rewrite(merged.problems_path, sorted(problems, key=lambda r: (r["repeat"], r.get("position", 0))))
    _rewrite(merged.samples_path, samples)
    return merged


def _finished(run: RunDir) -> list[dict]:
    return _unique(read_records(run.problems_path), lambda r: (r["repeat"], r["problem_id"]))


def _check_same_experiment(first: RunInfo, info_of: RunDir) -> None:
    info = info_of.info
    a, b = first.to_json(), info.to_json()
    for key in ("config", "problem_ids", "repeats", "seed", "mode"):
        if a[key] != b[key]:
            raise RunDirError(f"{info_of.path}: its {key} differs from the other shards' ({json.dumps(key)})")
