"""A whole batch for the CLI: plan, recover dead batches, run every item (here or on worker
processes), write the reports. The Prefect flow (``flows/process_bucket.py``) runs the same steps
as tasks: :func:`~pipeline.batch.plan.plan_batch`, :func:`~pipeline.batch.recover.recover_batches`,
:func:`~pipeline.batch.item.run_item`, :func:`~pipeline.batch.report.write_batch_reports`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pipeline.batch.ids import check_batch_id, item_id_for_key, new_batch_id
from pipeline.batch.item import BatchRunner, GroupResult, process_group
from pipeline.batch.plan import RULES, Plan, Planned, group_todo, plan_batch
from pipeline.batch.pool import run_groups_in_pool, start_fork_server
from pipeline.batch.recover import close_aborted_batch, recover_batches
from pipeline.batch.report import batch_report
from pipeline.config import PipelineConfig
from pipeline.config.themes import get_theme
from pipeline.io.storage import Bucket, dest_inside_source, open_buckets
from pipeline.ledger import LEDGER, Ledger
from pipeline.models.fingerprints import config_hash
from pipeline.redact import redact
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

Progress = Callable[[ItemRecord], None]
IGNORED_LOG_LINES = 20  # ignored entries logged one per line; the rest are counted (report.json has all)


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
    """Process every new key under ``source_url/prefix`` into ``dest_url/<batch_id>``.

    1. plan: one listing; every key is an item, a sidecar or ignored (with its rule); with
       ``skip_done``, items the ledger (``dest_url/_ledger``) has done with this config are
       skipped without being read;
    2. recover: write the reports of batches whose run died (kill -9, Ctrl-C, a lost machine);
    3. nothing new: return at once (no stage built, no worker started, no batch written);
    4. run every item (``workers`` processes, or here with ``runner``), each committed to the
       ledger once its outputs are written (``skip_done``);
    5. write the reports and close the batch. A batch that aborts writes the report of what it
       committed; one that is killed gets it from the next run's step 2.

    Returns (batch_id, report dict with ``paths`` (empty when nothing was written) and
    ``recovered_batches``, records of the items processed now in listing order). ``progress``
    is called after each item and ``on_start`` with the number of items to process. Never
    raises for bad items.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    batch_id = check_batch_id(batch_id) if batch_id is not None else new_batch_id()
    source, dest = open_buckets(source_url, dest_url, storage_options)
    ledger = Ledger(dest)
    holder = f"cli-{batch_id}-{secrets.token_hex(4)}"
    try:
        plan = plan_batch(source, prefix, ledger=ledger if skip_done else None, config_hash=config_hash(config))
        _log_plan(batch_id, source, plan)
        recovered = recover_batches(ledger, dest, holder=holder, current=batch_id if plan.todo else None)
        skipped = {"done": len(plan.done)} if plan.done else {}
        ignored = [i.as_json() for i in plan.ignored]
        if not plan.todo:
            log.info("nothing new under %s: %d done before, %d ignored; no batch written", redact(source.url),
                     len(plan.done), sum(i.count for i in plan.ignored))
            report, _ = _report(dest, batch_id, config, [], runner, skipped=skipped, ignored=ignored, write=False)
            return batch_id, {**report, "paths": {}, "recovered_batches": recovered}, []
        if on_start:
            on_start(len(plan.todo))
        resumed = skip_done and dest.exists(f"{LEDGER}/open/{batch_id}.json")  # a dead run of this very id
        lease = ledger.open_batch(batch_id, holder, {"config_json": config.model_dump_json(), "source":
                                                     redact(source.url), "backend": config.scene.backend}) \
            if skip_done else None
        try:
            records, more_skipped, run = _run_items(plan, source, dest, config, ledger if skip_done else None,
                                                    batch_id, runner=runner, workers=workers, progress=progress,
                                                    source_url=source_url, dest_url=dest_url,
                                                    storage_options=storage_options)
            for status, n in more_skipped.items():
                skipped[status] = skipped.get(status, 0) + n
            reported = _with_earlier_attempts(ledger, batch_id, records) if resumed else records
            report, paths = _report(dest, batch_id, config, reported, runner, skipped=skipped, ignored=ignored,
                                    run=run)
        except BaseException as exc:
            if lease is not None:
                close_aborted_batch(ledger, dest, batch_id, config, lease, exc)
            raise
        if lease is not None:
            ledger.close_batch(batch_id, lease)
    finally:
        ledger.close()
    return batch_id, {**report, "paths": paths, "recovered_batches": recovered}, records


def _log_plan(batch_id: str, source: Bucket, plan: Plan) -> None:
    log.info("batch %s: %d to process, %d done before, from %s", batch_id, len(plan.todo), len(plan.done),
             redact(source.url))
    for entry in plan.ignored[:IGNORED_LOG_LINES]:
        files = f" ({entry.count} files)" if entry.count > 1 else ""
        log.info("ignored %s%s: %s", redact(entry.key), files, RULES[entry.rule])
    if len(plan.ignored) > IGNORED_LOG_LINES:
        log.info("ignored %d more entries (report.json lists them all)", len(plan.ignored) - IGNORED_LOG_LINES)


def _run_items(plan: Plan, source: Bucket, dest: Bucket, config: PipelineConfig, ledger: Ledger | None,
               batch_id: str, *, runner: BatchRunner | None, workers: int, progress: Progress | None,
               source_url: str, dest_url: str, storage_options: dict[str, Any] | None,
               ) -> tuple[list[ItemRecord], dict[str, int], dict[str, Any]]:
    """(records in listing order, skipped counts by ledger status, run stats)."""
    if workers > 1 and runner is None and len(plan.todo) > 1:
        start_fork_server()  # it imports the pipeline while this process groups the batch
    cpu_start, worker_cpu_s = time.process_time(), {}
    groups = group_todo(source, plan.todo)
    workers = 1 if runner is not None else min(workers, len(groups))
    results: Iterable[GroupResult]
    if workers > 1:
        log.info("batch %s: %d worker processes", batch_id, workers)
        results = run_groups_in_pool(groups, workers, config, source_url=source_url, dest_url=dest_url,
                                     storage_options=storage_options, skip_done=ledger is not None,
                                     batch_id=batch_id, cpu_s=worker_cpu_s)
    else:
        here = runner or BatchRunner(config)
        here.stages  # noqa: B018 - there is work: build now, so a missing backend stops the batch before any item
        results = _here(here, ledger, source, groups, dest, batch_id)
    by_key: dict[str, ItemRecord] = {}
    skipped: dict[str, int] = {}
    for key, record, status in results:
        if record is not None:
            by_key[key] = record
        else:
            skipped[status or "done"] = skipped.get(status or "done", 0) + 1
        if progress:
            progress(record or ItemRecord(id=item_id_for_key(key), source=key, status="skipped",
                                          notes=(f"skipped: {status}",)))
    if skipped:
        log.info("batch %s: skipped %d while running: %s", batch_id, sum(skipped.values()), skipped)
    records = [by_key[p.key] for p in plan.todo if p.key in by_key]
    run = {"workers": max(workers, 1),
           "cpu_s": round(time.process_time() - cpu_start + sum(worker_cpu_s.values()), 3)}
    return records, skipped, run


def _here(runner: BatchRunner, ledger: Ledger | None, source: Bucket, groups: list[list[Planned]], dest: Bucket,
          batch_id: str) -> Iterator[GroupResult]:
    for group in groups:
        yield from process_group(runner, ledger, source, group, dest, batch_id)


def _report(dest: Bucket, batch_id: str, config: PipelineConfig, records: list[ItemRecord],
            runner: BatchRunner | None, *, write: bool = True, **extra: Any) -> tuple[dict[str, Any], dict[str, str]]:
    backend = runner.stages.scene.name if runner is not None and runner.stages_built \
        else _scene_backend_name(config, records)
    return batch_report(dest, batch_id, backend, config, records, write=write, **extra)


def _with_earlier_attempts(ledger: Ledger, batch_id: str, records: list[ItemRecord]) -> list[ItemRecord]:
    """A batch id resumed after its run died: the items its earlier attempt committed belong in
    its report too (this run's row of an item wins)."""
    now = {r.id for r in records}
    earlier = [r for r in ledger.batch_records(batch_id) if r.id not in now]
    if earlier:
        log.info("batch %s: %d items committed by its earlier, interrupted run are in its report too",
                 batch_id, len(earlier))
    return earlier + records


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


