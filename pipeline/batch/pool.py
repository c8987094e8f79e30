"""Worker processes for ``run --workers N``: each builds its stages once and processes whole
duplicate groups through the same per-item path (and ledger) as one process does.

- **Start.** Processes start from a fork server that imports the pipeline while the parent lists
  and plans the batch (:func:`start_fork_server`), so a worker starts in a fraction of a second
  and never inherits the parent's threads (progress bar, heartbeat) or a torch/OpenMP runtime.
- **Threads.** The cores are split between the workers before any work runs: OpenCV, every
  BLAS/OpenMP pool (``threadpoolctl``) and torch get ``cores // workers`` threads each, so two
  workers on two cores use two cores and none spins waiting for a sibling thread.
- **Submission** is bounded (``IN_FLIGHT_PER_WORKER`` groups per worker): the parent holds a
  few futures, not one per photo, and waits on those few.
- **Parent death.** Each worker watches the parent's pid and exits within
  ``PARENT_POLL_S`` of its death, however it dies (``kill -9`` included); the fork server then
  exits too (its "alive" pipe closes with the last worker).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from pipeline.batch.item import BatchRunner, GroupResult, process_group
from pipeline.batch.plan import Planned
from pipeline.config import PipelineConfig
from pipeline.io.storage import open_buckets
from pipeline.ledger import Ledger

log = logging.getLogger(__name__)

# Peak resident memory of one worker, by what it loads. Measured with ru_maxrss over 10 real photos
# at full size (bench/bench_batch.py's photos, up to 12 MP): studio + classical peaked at 242 MiB
# at a 1024 px output and 595 MiB at 2048 px; 1 GiB leaves room for larger photos.
WORKER_BYTES_CPU = 1 << 30
# A worker that loads SAM or a depth model on the CPU (not measured yet; ViT-B SAM is 0.4 GB of
# weights plus activations).
WORKER_BYTES_MODELS = 6 << 30
# A diffusion worker: sized by pipeline.scene.diffusion.memory (measured; see diffusion_workers).
IN_FLIGHT_PER_WORKER = 2  # groups queued per worker: one running, one ready, so no worker waits on the parent
PARENT_POLL_S = 0.25  # how often a worker checks that its parent is alive, where pidfd is missing
START_METHOD = "forkserver"  # see the module docstring; "fork" saves ~1 s of start-up but copies the parent's threads
PRELOAD = ["pipeline.batch.pool"]  # what the fork server imports once, for every worker
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
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


def worker_bytes(config: PipelineConfig) -> int:
    """Peak resident bytes one worker needs for ``config``'s segment and depth backends (the
    diffusion scene is sized by :func:`diffusion_workers`)."""
    light = config.segment.backend == "classical" and config.control.depth_backend == "pseudo"
    return WORKER_BYTES_CPU if light else WORKER_BYTES_MODELS


def diffusion_workers(config: PipelineConfig, memory: int) -> int:
    """How many CPU diffusion workers fit in ``memory`` bytes: the measured memory model of
    :mod:`pipeline.scene.diffusion.memory` (the memory-mapped weights once, shared by the workers
    that load the same files; the rest per worker)."""
    from pipeline.config.diffusion import diffusion_config
    from pipeline.scene.diffusion.memory import diffusion_worker_memory

    cfg = diffusion_config(config)
    return diffusion_worker_memory(cfg, cfg.run_dtype(config)).workers_fitting(memory)


def default_workers(config: PipelineConfig) -> int:
    """The number of cores, capped by memory; 1 on a GPU (one model per device)."""
    if config.run.device != "cpu":
        return 1
    memory = available_memory()
    if memory is None:
        return available_cores()
    if config.scene.backend == "diffusion":
        by_memory = diffusion_workers(config, memory)
    else:
        by_memory = max(1, memory // worker_bytes(config))
    return max(1, min(available_cores(), by_memory))


def threads_per_worker(workers: int) -> int:
    """Cores split evenly between ``workers`` processes, at least one thread each."""
    return max(1, available_cores() // max(1, workers))


def limit_threads(threads: int) -> None:
    """Cap OpenCV, every loaded BLAS/OpenMP pool and torch (when loaded) at ``threads`` in this
    process; libraries loaded later read the ``THREAD_ENV`` variables set here."""
    import cv2
    from threadpoolctl import threadpool_limits

    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    cv2.setNumThreads(threads)
    threadpool_limits(limits=threads)  # stays in force: the returned context is never exited
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def exit_with_parent(pid: int) -> threading.Thread:
    """A daemon thread that ends this process (``os._exit(1)``) as soon as process ``pid`` is
    gone: at once through a pidfd on Linux >= 5.3, else within ``PARENT_POLL_S``."""

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def watch() -> None:
        fd = None
        if hasattr(os, "pidfd_open"):
            try:
                fd = os.pidfd_open(pid)
            except OSError:  # already gone, or pidfd unsupported by this kernel
                fd = None
                if gone():
                    os._exit(1)
        if fd is not None:
            select.select([fd], [], [])  # readable once the process has exited
            os._exit(1)
        while not gone():
            threading.Event().wait(PARENT_POLL_S)
        os._exit(1)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def start_fork_server() -> None:
    """Start the fork server (it imports ``PRELOAD``) now, in the background, so it is ready by
    the time the pool starts; harmless when it runs already or the start method is not a fork
    server."""
    if START_METHOD != "forkserver":
        return
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


def _init_worker(config_json: str, source_url: str, dest_url: str, storage_options: dict[str, Any] | None,
                 skip_done: bool, log_level: int, threads: int, environ: dict[str, str],
                 parent_pid: int | None = None) -> None:
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    # The fork server started with the environment of its first use; credentials (AWS_*) and
    # settings may have changed since in a long-lived caller: take the caller's environment now.
    for name in set(os.environ) - set(environ):
        del os.environ[name]
    os.environ.update(environ)
    limit_threads(threads)  # before the stages are built: a backend that loads torch reads the limits

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipeline").setLevel(max(log_level, logging.WARNING))
    source, dest = open_buckets(source_url, dest_url, storage_options)
    _STATE.update(runner=BatchRunner(PipelineConfig.model_validate_json(config_json)), source=source, dest=dest,
                  ledger=Ledger(dest) if skip_done else None)
    limit_threads(threads)  # again: building the stages may have loaded torch or another OpenMP runtime


def _run_group(batch_id: str, group: list[Planned]) -> tuple[list[GroupResult], int, float]:
    """(results, worker pid, CPU seconds this worker has used so far)."""
    import time

    results = process_group(_STATE["runner"], _STATE["ledger"], _STATE["source"], group, _STATE["dest"], batch_id)
    return results, os.getpid(), time.process_time()


def run_groups_in_pool(groups: list[list[Planned]], workers: int, config: PipelineConfig, *, source_url: str,
                       dest_url: str, storage_options: dict[str, Any] | None, skip_done: bool,
                       batch_id: str, cpu_s: dict[int, float] | None = None) -> Iterator[GroupResult]:
    """Process ``groups`` on ``workers`` processes; yields (key, record, skipped status) as
    groups finish; ``cpu_s`` (when given) collects worker pid -> CPU seconds used. A worker
    that dies (killed, out of memory) fails the batch with ``BrokenProcessPool``; the ledger
    then lets a rerun pick up what was left."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    ctx = multiprocessing.get_context(START_METHOD)
    if START_METHOD == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    level = logging.getLogger("pipeline").getEffectiveLevel()
    init = (config.model_dump_json(), source_url, dest_url, storage_options, skip_done, level,
            threads_per_worker(workers), dict(os.environ), os.getpid())
    todo = iter(groups)
    limit = workers * IN_FLIGHT_PER_WORKER
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=init) as pool:
        pending: set[Future] = set()
        try:
            while True:
                while len(pending) < limit and (group := next(todo, None)) is not None:
                    pending.add(pool.submit(_run_group, batch_id, group))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    results, pid, used = future.result()
                    if cpu_s is not None:
                        cpu_s[pid] = max(used, cpu_s.get(pid, 0.0))
                    yield from results
        finally:
            for future in pending:
                future.cancel()
