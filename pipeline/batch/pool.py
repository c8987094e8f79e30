"""Worker processes for ``run --workers N``: each builds its stages once and processes whole
duplicate groups through the same per-item path (and ledger) as one process does.

Processes start from a fork server that has imported the pipeline already, so a worker starts
in a fraction of a second and never inherits the parent's threads (progress bar, heartbeat).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from pipeline.batch.item import BatchRunner, process_group
from pipeline.batch.plan import Planned
from pipeline.config import PipelineConfig
from pipeline.io.storage import open_buckets
from pipeline.ledger import Ledger
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

GROUP_RESULT = tuple[str, "ItemRecord | None", "str | None"]
WORKER_BYTES_CPU = 1 << 30  # peak resident memory of one studio worker at 2048^2 out, with margin
WORKER_BYTES_MODELS = 6 << 30  # a worker holding SAM / depth / diffusion weights on the CPU
_STATE: dict[str, Any] = {}


def available_cores() -> int:
    """CPU cores this process may run on (affinity-aware)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes; None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_workers(config: PipelineConfig) -> int:
    """The number of cores, capped by memory; 1 on a GPU (one model per device).

    Studio + classical workers need about ``WORKER_BYTES_CPU`` each, workers that load
    weights (SAM, a depth model, diffusion) about ``WORKER_BYTES_MODELS``.
    """
    if config.run.device != "cpu":
        return 1
    light = (config.scene.backend == "studio" and config.segment.backend == "classical"
             and config.control.depth_backend == "pseudo")
    per_worker = WORKER_BYTES_CPU if light else WORKER_BYTES_MODELS
    memory = available_memory()
    by_memory = max(1, memory // per_worker) if memory else available_cores()
    return max(1, min(available_cores(), by_memory))


def _init_worker(config_json: str, source_url: str, dest_url: str, storage_options: dict[str, Any] | None,
                 skip_done: bool, log_level: int, threads: int, environ: dict[str, str]) -> None:
    import cv2

    # The fork server started with the environment of its first use; credentials (AWS_*) and
    # settings may have changed since in a long-lived caller: take the caller's environment now.
    for name in set(os.environ) - set(environ):
        del os.environ[name]
    os.environ.update(environ)
    cv2.setNumThreads(threads)  # the workers share the cores: no oversubscription

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipeline").setLevel(max(log_level, logging.WARNING))
    source, dest = open_buckets(source_url, dest_url, storage_options)
    _STATE.update(runner=BatchRunner(PipelineConfig.model_validate_json(config_json)), source=source, dest=dest,
                  ledger=Ledger(dest) if skip_done else None)


def _run_group(batch_id: str, group: list[Planned]) -> tuple[list[GROUP_RESULT], int, float]:
    """(results, worker pid, CPU seconds this worker has used so far)."""
    import time

    results = process_group(_STATE["runner"], _STATE["ledger"], _STATE["source"], group, _STATE["dest"], batch_id)
    return results, os.getpid(), time.process_time()


def run_groups_in_pool(groups: list[list[Planned]], workers: int, config: PipelineConfig, *, source_url: str,
                       dest_url: str, storage_options: dict[str, Any] | None, skip_done: bool,
                       batch_id: str, cpu_s: dict[int, float] | None = None) -> Iterator[GROUP_RESULT]:
    """Process ``groups`` on ``workers`` processes; yields (key, record, skipped status) as
    groups finish; ``cpu_s`` (when given) collects worker pid -> CPU seconds used. A worker
    that dies (killed, out of memory) fails the batch with ``BrokenProcessPool``; the ledger
    then lets a rerun pick up what was left."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["pipeline.batch.pool"])
    level = logging.getLogger("pipeline").getEffectiveLevel()
    threads = max(1, available_cores() // workers)
    init = (config.model_dump_json(), source_url, dest_url, storage_options, skip_done, level, threads,
            dict(os.environ))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=init) as pool:
        pending = {pool.submit(_run_group, batch_id, group) for group in groups}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    results, pid, used = future.result()
                    if cpu_s is not None:
                        cpu_s[pid] = max(used, cpu_s.get(pid, 0.0))
                    yield from results
        finally:
            for future in pending:
                future.cancel()
