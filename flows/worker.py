"""Per-worker-process state: the pipeline (models loaded once) and the ledger, never task inputs.

Tasks receive plain strings (config JSON, URLs) and look the heavy objects up here, so a thread
pool shares one :class:`~pipeline.batch.BatchRunner` per process, a process pool or Dask worker
builds exactly one per process, and nothing big is pickled between machines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from pipeline.batch import BatchRunner
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger
from pipeline.models.fingerprints import config_hash
from pipeline.redact import register_storage_options

log = logging.getLogger(__name__)

_lock = threading.Lock()
_runners: dict[str, BatchRunner] = {}
_pipeline_locks: dict[str, threading.Lock] = {}
_ledgers: dict[tuple[str, str, float, float | None], Ledger] = {}
_buckets: dict[tuple[str, str], Bucket] = {}
BUILDS: dict[str, int] = {}  # config hash -> runners built in this process (tests, diagnostics)


def get_runner(config_json: str) -> BatchRunner:
    """The process-wide runner for this config (built on first use, under a lock)."""
    with _lock:
        runner = _runners.get(config_json)
        if runner is None:
            config = PipelineConfig.model_validate_json(config_json)
            log.info("building pipeline %s in process %d", config_hash(config), os.getpid())
            runner = BatchRunner(config)
            _runners[config_json] = runner
            _pipeline_locks[config_json] = threading.Lock()
            BUILDS[runner.config_hash] = BUILDS.get(runner.config_hash, 0) + 1
        return runner


def runner_builds(config_hash: str) -> int:
    """How many pipelines this process has built for ``config_hash`` (1 when loaded once).

    A function, not the dict: task functions may be pickled by value (Dask), copying globals.
    """
    with _lock:
        return BUILDS.get(config_hash, 0)


def needs_lock(config: PipelineConfig, mode: str) -> bool:
    """Serialise pipeline calls? ``auto``: yes unless the studio backend on the CPU (pure numpy)."""
    if mode in ("always", "never"):
        return mode == "always"
    return not (config.scene.backend == "studio" and config.run.device == "cpu"
                and config.segment.backend == "classical")


@contextlib.contextmanager
def pipeline_guard(config_json: str, locked: bool) -> Iterator[None]:
    """Hold this process's pipeline lock for ``config_json`` when ``locked``."""
    if not locked:
        yield
        return
    get_runner(config_json)
    with _pipeline_locks[config_json]:
        yield


def get_bucket(url: str, options_json: str) -> Bucket:
    key = (url, options_json)
    with _lock:
        bucket = _buckets.get(key)
        if bucket is None:
            options: dict[str, Any] = json.loads(options_json)
            register_storage_options(options)
            bucket = _buckets[key] = Bucket(url, options)
        return bucket


def get_ledger(dest_url: str, options_json: str, lease_ttl_s: float, heartbeat_s: float | None) -> Ledger:
    key = (dest_url, options_json, lease_ttl_s, heartbeat_s)
    dest = get_bucket(dest_url, options_json)
    with _lock:
        ledger = _ledgers.get(key)
        if ledger is None:
            ledger = _ledgers[key] = Ledger(dest, lease_ttl_s=lease_ttl_s, heartbeat_s=heartbeat_s)
        return ledger
