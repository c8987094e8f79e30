"""A whole batch: list a source bucket, plan it, run every item (here or on worker processes),
write the reports."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pipeline.batch.ids import check_batch_id, item_id_for_key, new_batch_id
from pipeline.batch.item import BatchRunner, process_group
from pipeline.batch.plan import plan_groups
from pipeline.batch.pool import run_groups_in_pool
from pipeline.batch.report import write_reports_with_extra
from pipeline.config import PipelineConfig
from pipeline.io.storage import dest_inside_source, open_buckets
from pipeline.ledger import Ledger
from pipeline.redact import redact
from pipeline.config.themes import get_theme
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

Progress = Callable[[ItemRecord], None]


def run_batch(
    source_url: str,
    dest_url: str,
    config: PipelineConfig,
    *,
    prefix: str = "",
    batch_id: str | None = None,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    storage_options: dict[str, Any] | None = None,
    runner: BatchRunner | None = None,
    skip_done: bool = False,
    workers: int = 1,
) -> tuple[str, dict[str, Any], list[ItemRecord]]:
    """Process every image under ``source_url/prefix`` into ``dest_url/<batch_id>``.

    skip_done: keep a ledger in ``dest_url/_ledger`` and skip photos already processed with this
    exact config (same key, bytes and sidecar, same config hash), so a killed run can simply be
    run again; each item is committed once, after its outputs are written.
    workers: processes (each builds its stages once; see :mod:`pipeline.batch.pool`); 1 runs
    here, in this process, with ``runner`` when given.
    Returns (batch_id, report dict, records of the items processed now, in listing order).
    ``progress`` is called after each item and ``on_start`` with the item count. Never raises
    for bad items.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    source, dest = open_buckets(source_url, dest_url, storage_options)
    batch_id = check_batch_id(batch_id) if batch_id else new_batch_id()
    keys = source.list_images(prefix)
    log.info("batch %s: %d images from %s", batch_id, len(keys), redact(source.url))
    if on_start:
        on_start(len(keys))
    cpu_start, worker_cpu_s = time.process_time(), {}
    groups = plan_groups(source, keys)
    workers = 1 if runner is not None else min(workers, len(groups))
    if workers > 1:
        log.info("batch %s: %d worker processes", batch_id, workers)
        results = run_groups_in_pool(groups, workers, config, source_url=source_url, dest_url=dest_url,
                                     storage_options=storage_options, skip_done=skip_done, batch_id=batch_id,
                                     cpu_s=worker_cpu_s)
    else:
        runner = runner or BatchRunner(config)
        ledger = Ledger(dest) if skip_done else None
        results = (r for group in groups for r in process_group(runner, ledger, source, group, dest, batch_id))
    by_key: dict[str, ItemRecord] = {}
    skipped: dict[str, int] = {}
    for key, record, status in results:
        if record is not None:
            by_key[key] = record
        else:
            skipped[status or "done"] = skipped.get(status or "done", 0) + 1
        if progress:
            progress(record or ItemRecord(id=item_id_for_key(key), source=key, status="skipped"))
    records = [by_key[k] for k in keys if k in by_key]
    if skipped:
        log.info("batch %s: skipped %d already processed: %s", batch_id, sum(skipped.values()), skipped)
    backend = runner.stages.scene.name if runner is not None else _scene_backend_name(config, records)
    run = {"workers": max(workers, 1), "cpu_s": round(time.process_time() - cpu_start + sum(worker_cpu_s.values()), 3)}
    report, paths = write_reports_with_extra(dest, batch_id, backend, config, records, skipped, run)
    return batch_id, {**report, "paths": paths}, records


def validate_run(config: PipelineConfig, source_url: str, dest_url: str, *, prefix: str = "",
                 storage_options: dict[str, Any] | None = None) -> None:
    """Everything a batch needs that can be checked before it starts; ``ValueError`` naming the
    problem: the theme (and themes file) must exist, and DEST must not lie inside SOURCE/prefix
    (its outputs would come back as new photos on the next run)."""
    get_theme(config.scene.theme, config.scene.themes_file)
    source, dest = open_buckets(source_url, dest_url, storage_options)
    if dest_inside_source(source, dest, prefix):
        raise ValueError(f"DEST {redact(dest.url)!r} is inside SOURCE {redact(source.url)!r}"
                         f"{f' (prefix {prefix!r})' if prefix else ''}: its outputs would be read back as new "
                         "photos on the next run; choose a destination outside the source")


def _scene_backend_name(config: PipelineConfig, records: list[ItemRecord]) -> str:
    """The scene backend the workers used (as their records say), else the configured one."""
    return next((r.backends["scene"] for r in records if r.backends.get("scene")), config.scene.backend)
