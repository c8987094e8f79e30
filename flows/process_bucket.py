"""The ``process-bucket`` flow: new photos in a bucket -> scenes, a report, artifacts, a ledger.

A thin Prefect shell around the batch engine (:mod:`pipeline.batch`), the same one the CLI runs;
this module adds only tasks, retries and artifacts. One run:

1. ``recover-batches``: reports of batches an earlier run (flow or CLI) left open (killed
   mid-batch): :func:`pipeline.batch.recover.recover_batches`;
2. ``plan-batch``: one listing of ``options.prefix``; keys the ledger has done with this config
   are skipped unread (:func:`pipeline.batch.plan.plan_batch`);
3. ``process-product`` mapped over the rest on the chosen task runner: read once, skip if done
   or leased, run every stage, commit to the ledger once its outputs exist
   (:func:`pipeline.batch.item.run_item`), optionally move the input;
4. ``write-reports`` (report.json/csv/html) and the artifacts (table, summary, link).

Retries: IO tasks retry transient storage errors with exponential backoff; a bad file or an
unsafe key is an ``error`` row, recorded once, never retried (:mod:`pipeline.batch.failures`).
Models are loaded once per worker process (:mod:`flows.worker`), never passed as task inputs.
"""


import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from prefect.tasks import exponential_backoff

from flows.artifacts import BatchStats, publish
from flows.dead_runs import crash_dead_runs_of, record_run_owner, watch_serve_parent
from flows.params import BatchOptions
from flows.review_waiting import announce_review_waiting
from flows.runners import make_task_runner
from flows.worker import get_bucket, get_ledger, get_runner, needs_lock, pipeline_guard, runner_builds
from pipeline.batch import item_id_for_key, new_batch_id, write_batch_reports
from pipeline.batch import plan_batch as plan_source
from pipeline.batch import recover_batches as recover_dead_batches
from pipeline.batch.failures import classify, error_record
from pipeline.batch.item import ItemInput, display_key, run_item
from pipeline.batch.plan import Plan, Planned
from pipeline.batch.recover import close_aborted_batch
from pipeline.config import PipelineConfig, load_config
from pipeline.errors import UnsafeKeyError
from pipeline.io.storage import Bucket, dest_inside_source, safe_key
from pipeline.ledger import Ledger, Outcome, move_input
from pipeline.models.fingerprints import config_hash
from pipeline.redact import install_log_redaction, redact
from pipeline.report.summary import fallback_counts, fallback_lines
from pipeline.types import ItemRecord

IO_RETRIES = 4
IO_RETRY_DELAYS = exponential_backoff(backoff_factor=1)(IO_RETRIES)  # 1, 2, 4, 8 s
IO_JITTER = 0.3


def _exception_of(state: State) -> BaseException | None:
    try:
        value = state.result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001 - result() itself raised the stored exception
        return exc
    return value if isinstance(value, BaseException) else None


def retry_if_transient(task: Any, task_run: Any, state: State) -> bool:
    """Prefect ``retry_condition_fn``: retry storage hiccups, never bad input (the engine's one
    classification, :func:`pipeline.batch.failures.classify`)."""
    exc = _exception_of(state)
    return exc is None or classify(exc) == "transient"


_IO_TASK: dict[str, Any] = {
    "retries": IO_RETRIES, "retry_delay_seconds": IO_RETRY_DELAYS, "retry_jitter_factor": IO_JITTER,
    "retry_condition_fn": retry_if_transient, "cache_policy": NO_CACHE, "persist_result": False,
}
DEFAULT_OPTIONS = BatchOptions()


@dataclass(frozen=True)
class ItemJob:
    """What every product task needs, as plain strings (small, picklable, no secrets)."""

    source_url: str
    dest_url: str
    source_options_json: str
    dest_options_json: str
    config_json: str
    config_hash: str
    batch_id: str
    prefix: str
    lease_ttl_s: float
    heartbeat_s: float | None
    lock: bool
    on_success: str
    processed_prefix: str
    failed_prefix: str

    def source(self) -> Bucket:
        return get_bucket(self.source_url, self.source_options_json)

    def dest(self) -> Bucket:
        return get_bucket(self.dest_url, self.dest_options_json)

    def ledger(self) -> Ledger:
        return get_ledger(self.dest_url, self.dest_options_json, self.lease_ttl_s, self.heartbeat_s)


@dataclass(frozen=True)
class ItemResult:
    status: str
    key: str
    record: ItemRecord | None
    detail: str
    moved_to: str | None
    worker: str  # host:pid that ran it
    runner_builds: int  # pipelines this worker process has built for the config (1 = loaded once)
    pipeline_s: float  # time inside BatchRunner.process_key (the rest of the task is orchestration)


def resolve_config(config: PipelineConfig | None, config_path: str | None) -> PipelineConfig:
    """The run's config: ``config`` or the YAML at ``config_path`` (not both), else defaults."""
    if config is not None and config_path:
        raise ValueError("give either config or config_path, not both")
    if config_path:
        return load_config(config_path)
    return config or PipelineConfig()


def check_buckets(source: Bucket, dest: Bucket, prefix: str) -> None:
    """Refuse a destination inside the watched prefix (outputs would come back as inputs)."""
    if dest_inside_source(source, dest, prefix):
        raise ValueError(f"dest_url must not be inside the watched prefix {prefix!r} of source_url")


@task(name="plan-batch", **_IO_TASK)
def plan_batch(job: ItemJob, max_items: int | None) -> Plan:
    """List the source; drop keys the ledger already knows as done (by fingerprint, no read)."""
    return plan_source(job.source(), job.prefix, ledger=job.ledger(), config_hash=job.config_hash,
                       max_items=max_items)


def _task_holder() -> str:
    from prefect.runtime import task_run

    return str(task_run.id or uuid.uuid4())


def _move(job: ItemJob, source: Bucket, key: str, record: ItemRecord | None) -> str | None:
    if job.on_success != "move":
        return None
    try:
        safe_key(key)
    except UnsafeKeyError:
        return None
    if record is not None and record.status == "error":
        return move_input(source, key, from_prefix=job.prefix, to_prefix=job.failed_prefix, reason=record.error)
    return move_input(source, key, from_prefix=job.prefix, to_prefix=job.processed_prefix)


def _process_product(planned: Planned, job: ItemJob) -> ItemResult:
    """One product through the engine (:func:`~pipeline.batch.item.run_item`), committed once.

    A plain module function wrapped below (not decorated in place), so Dask and process pools
    pickle it by reference instead of by value.
    """
    install_log_redaction()
    logger = get_run_logger()
    source, dest, ledger = job.source(), job.dest(), job.ledger()
    runner = get_runner(job.config_json)
    key = planned.key
    pipeline_s = 0.0

    def compute(item: ItemInput) -> ItemRecord:
        nonlocal pipeline_s
        started = time.perf_counter()
        try:
            with pipeline_guard(job.config_json, job.lock):
                return runner.process_input(item, dest, job.batch_id)
        finally:
            pipeline_s += time.perf_counter() - started

    outcome: Outcome = run_item(runner, ledger, source, planned, dest, job.batch_id, holder=_task_holder(),
                                compute=compute)
    moved = None
    if outcome.status in ("processed", "done"):
        moved = _move(job, source, key, outcome.record)
    rec = outcome.record
    if rec is not None:
        logger.info("%s: %s", rec.id, redact(rec.error) if rec.error else rec.verdict)
    else:
        logger.info("%s: skipped (%s) %s", redact(display_key(key)), outcome.status, outcome.detail)
    return ItemResult(outcome.status, key, rec, outcome.detail, moved, f"{socket.gethostname()}:{os.getpid()}",
                      runner_builds(job.config_hash), pipeline_s)


process_product = task(name="process-product", task_run_name="product-{planned.key}", **_IO_TASK)(_process_product)


@task(name="move-done-inputs", **_IO_TASK)
def move_done_inputs(job: ItemJob, keys: tuple[str, ...]) -> int:
    """Move inputs that are done but still under the prefix (a run died between commit and move)."""
    source = job.source()
    for key in keys:
        if source.exists(key):
            _move(job, source, key, None)
    return len(keys)


@task(name="write-reports", **_IO_TASK)
def write_reports(job: ItemJob, backend: str, records: list[ItemRecord], skipped: dict[str, int] | None = None,
                  ignored: list[dict[str, Any]] | None = None) -> dict[str, str]:
    config = PipelineConfig.model_validate_json(job.config_json)
    return write_batch_reports(job.dest(), job.batch_id, backend, config, records, skipped=skipped, ignored=ignored)


@task(name="recover-batches", **_IO_TASK)
def recover_batches(job: ItemJob, holder: str) -> list[str]:
    """Write the reports of batches whose run died before writing them; close those batches."""
    return recover_dead_batches(job.ledger(), job.dest(), holder=holder, current=job.batch_id)


def _collect(futures: list[Any], plan: Plan) -> tuple[list[ItemResult], list[ItemRecord]]:
    """Task results, and an error row (not committed: the next run tries again) per task that
    failed for good (a storage error after its retries)."""
    results, failed = [], []
    for planned, future in zip(plan.todo, futures):
        try:
            results.append(future.result())
        except Exception as exc:  # noqa: BLE001 - any task that failed for good becomes an error item
            failed.append(error_record(item_id_for_key(planned.key), display_key(planned.key), exc))
    return results, failed


@flow(name="process-bucket", validate_parameters=True)
def process_bucket(
    source_url: str,
    dest_url: str,
    config: PipelineConfig | None = None,
    config_path: str | None = None,
    options: BatchOptions = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """Process new images under ``source_url/<options.prefix>`` into ``dest_url/<batch_id>/``.

    config: the pipeline config (or config_path: a YAML file on the worker); options: prefix,
    input moving, storage endpoint, task runner, ledger lease. Returns a summary dict.
    """
    install_log_redaction()
    logger = get_run_logger()
    cfg = resolve_config(config, config_path)
    from prefect.runtime import deployment, flow_run

    watch_serve_parent()
    record_run_owner(flow_run.id)
    crash_dead_runs_of(flow_run.flow_name, deployment.name)
    holder = str(flow_run.id or uuid.uuid4())
    storage = options.storage
    job = ItemJob(
        source_url=source_url, dest_url=dest_url,
        source_options_json=json.dumps(storage.storage_options(source_url), sort_keys=True),
        dest_options_json=json.dumps(storage.storage_options(dest_url), sort_keys=True),
        config_json=cfg.model_dump_json(), config_hash=config_hash(cfg), batch_id=new_batch_id(),
        prefix=options.prefix, lease_ttl_s=options.ledger.lease_ttl_s, heartbeat_s=options.ledger.heartbeat_s,
        lock=needs_lock(cfg, options.runner.lock), on_success=options.on_success,
        processed_prefix=options.processed_prefix, failed_prefix=options.failed_prefix,
    )
    check_buckets(job.source(), job.dest(), job.prefix)
    backend = cfg.scene.backend
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    recovered = recover_batches(job, holder)
    plan = plan_batch(job, options.max_items)
    timings["plan"] = time.perf_counter() - t0
    moved = move_done_inputs(job, plan.done) if (options.on_success == "move" and plan.done) else 0
    ignored = [i.as_json() for i in plan.ignored]
    stats = BatchStats(job.batch_id, backend, options.runner.kind, listed=plan.listed,
                       skipped_done=len(plan.done), recovered_batches=tuple(recovered),
                       ignored=sum(i["files"] for i in ignored))
    if not plan.todo:  # one line, no artifacts: a quiet schedule stays quiet
        logger.info("nothing new under %s (%d listed, %d done%s%s%s)", options.prefix, plan.listed,
                    len(plan.done), f", {moved} inputs moved" if moved else "",
                    f", {sum(i['files'] for i in ignored)} ignored" if ignored else "",
                    f", reports recovered for {', '.join(recovered)}" if recovered else "")
        return _summary(job.batch_id, [], stats, {}, recovered, ignored)
    logger.info("batch %s: %s -> %s (config %s, runner %s)", job.batch_id, redact(source_url),
                redact(dest_url), job.config_hash, options.runner.kind)

    ledger = job.ledger()
    batch_lease = ledger.open_batch(job.batch_id, holder, {
        "config_json": job.config_json, "backend": backend, "source": redact(source_url),
    })
    try:
        t1 = time.perf_counter()
        with make_task_runner(options.runner) as runner:
            futures = runner.map(process_product, {"planned": list(plan.todo), "job": unmapped(job)})
            results, failed = _collect(list(futures), plan)
        timings["process"] = time.perf_counter() - t1
        timings["pipeline_sum"] = sum(r.pipeline_s for r in results)
        records = [r.record for r in results if r.status == "processed" and r.record is not None] + failed
        records.sort(key=lambda r: r.id)
        counts = {s: sum(r.status == s for r in results) for s in ("done", "leased", "lost", "changed")}
        stats = BatchStats(
            job.batch_id, backend, options.runner.kind, listed=plan.listed,
            skipped_done=len(plan.done) + counts["done"], skipped_leased=counts["leased"], lost=counts["lost"],
            changed=counts["changed"], failed_tasks=len(failed), recovered_batches=tuple(recovered),
            ignored=stats.ignored,
            moved=moved + sum(r.moved_to is not None for r in results), wall_s=timings,
        )
        t2 = time.perf_counter()
        skipped = {k: v for k, v in (("done", stats.skipped_done), ("leased", stats.skipped_leased),
                                     ("lost", stats.lost), ("changed", stats.changed)) if v}
        paths = write_reports(job, backend, records, skipped, ignored) if records else {}
        timings["report"] = time.perf_counter() - t2
        timings["total"] = time.perf_counter() - t0
        publish(records, stats, paths.get("html"),
                review=announce_review_waiting(dest_url, json.loads(job.dest_options_json), job.batch_id))
        for line in fallback_lines(fallback_counts(records), len(records)):
            logger.warning("batch %s: %s (see report.html)", job.batch_id, line)
        ledger.close_batch(job.batch_id, batch_lease)
    except BaseException as exc:  # report what was committed now, or leave it to the next run
        close_aborted_batch(ledger, job.dest(), job.batch_id, cfg, batch_lease, exc)
        raise
    logger.info("batch %s: %d processed, %d skipped as done, %d leased elsewhere, %d storage failures",
                job.batch_id, len(records) - len(failed), stats.skipped_done, stats.skipped_leased, len(failed))
    summary = _summary(job.batch_id, records, stats, paths, recovered, ignored)
    summary["workers"] = {r.worker: r.runner_builds for r in results}
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    return summary


def _summary(batch_id: str, records: list[ItemRecord], stats: BatchStats, paths: dict[str, str],
             recovered: list[str], ignored: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r.status == "ok"]
    return {
        "batch_id": batch_id,
        "processed": len(records),
        "pass": sum(r.verdict == "pass" for r in ok),
        "fail": sum(r.verdict == "fail" for r in ok),
        "error": len(records) - len(ok),
        "skipped_done": stats.skipped_done,
        "skipped_leased": stats.skipped_leased,
        "lost": stats.lost,
        "storage_failures": stats.failed_tasks,
        "moved": stats.moved,
        "reports": {k: redact(v) for k, v in paths.items()},
        "recovered_batches": list(recovered),
        "fallbacks": fallback_counts(records),
        "items": sorted(r.source for r in records),
        "ignored": ignored,
    }
