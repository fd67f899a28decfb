"""`aimo eval --ray ADDRESS`: the shards of an evaluation as Ray tasks on an existing Ray cluster.

Each task runs one shard (`aimo.evaluate.shards`) exactly as `aimo eval --shard i/n` would, into
`OUT/shard-i-of-n`, so OUT must be storage every Ray node sees (on one machine: any folder). With
several server URLs and at least as many URLs as shards, shard i talks to URLs i, i + n, …: each task
against its own endpoints. A killed evaluation is run again with `--resume`: finished shards are
skipped, unfinished ones resume. When all tasks are done the shards are merged into OUT.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from aimo.errors import AimoError
from aimo.evaluate.launch import EvalRequest
from aimo.evaluate.rundir import RunDir


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise AimoError("--ray needs Ray: pip install 'aimo[ray]'") from None
    return ray


def shard_request(request: EvalRequest, i: int, n: int) -> EvalRequest:
    """Shard i of n of `request`, with its share of the server URLs when there are enough."""
    config = request.config
    urls = config.engine.base_urls
    if len(urls) >= n > 1:
        config = config.model_copy(
            update={"engine": config.engine.model_copy(update={"base_urls": urls[i::n]})}
        )
    return dataclasses.replace(request, config=config, shard=(i, n))


def run_shard(request: EvalRequest, resume: bool, concurrency: int | None) -> str:
    """One shard, start to end (the body of a Ray task); returns its run directory."""
    import asyncio

    from aimo.evaluate.launch import execute, start

    session = start(request, resume=resume)
    asyncio.run(execute(session, concurrency=concurrency))
    return str(session.run.path)


def run_on_ray(
    request: EvalRequest, address: str, shards: int, resume: bool = False, concurrency: int | None = None
) -> RunDir:
    """Run `request` as `shards` Ray tasks on the cluster at `address` ("local": a new local one), merge."""
    from aimo.evaluate.shards import merge_shards

    if request.out is None:
        raise AimoError("--ray needs --out DIR on storage every Ray node sees")
    ray = _import_ray()
    ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(run_shard)
        refs = [task.remote(shard_request(request, i, shards), resume, concurrency) for i in range(shards)]
        try:
            ray.get(refs)
        except ray.exceptions.RayTaskError as exc:
            raise AimoError(f"a shard failed on Ray: {exc.cause if hasattr(exc, 'cause') else exc}") from None
    finally:
        ray.shutdown()
    return merge_shards([request.out], Path(request.out))
