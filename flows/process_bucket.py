"""The ``process-bucket`` flow: new photos in a bucket -> scenes, a report, artifacts, a ledger.

One run:

1. recover reports of batches an earlier run left open (killed mid-batch);
2. ``plan-batch``: list images under ``options.prefix``; skip keys whose (fingerprint -> content
   hash, config hash) the ledger records as done, without reading them;
3. ``process-product`` mapped over the rest on the chosen task runner: hash the bytes, skip if
   done or leased, take the item's lease, run every stage (``BatchRunner.process_key``: load,
   segment, control, scene, restore, score, write), commit to the ledger once its outputs exist,
   optionally move the input to ``processed/`` or ``failed/``;
4. ``write-reports`` (report.json/csv/html) and the artifacts (table, summary, link).

Retries: IO tasks retry transient storage errors with exponential backoff; a bad image or an
unsafe key is an ``error`` record, never retried. Models are loaded once per worker process
(:mod:`flows.worker`), never passed as task inputs.
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
from pipeline.batch import new_batch_id, write_batch_reports
from pipeline.config import PipelineConfig, load_config
from pipeline.models.fingerprints import config_hash
from pipeline.errors import UnsafeKeyError
from pipeline.ledger import (
    Ledger,
    Outcome,
    fingerprint,
    item_name,
    move_input,
    process_once,
    rejected_name,
    sidecar_key,
)
from pipeline.io.transient import is_transient_error
from pipeline.redact import install_log_redaction, redact
from pipeline.io.storage import IMAGE_SUFFIXES, Bucket, dest_inside_source, safe_key
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
    """Prefect ``retry_condition_fn``: retry storage hiccups, never bad input."""
    exc = _exception_of(state)
    return exc is None or is_transient_error(exc)


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
class Planned:
    key: str
    fp: str | None


@dataclass(frozen=True)
class Plan:
    todo: tuple[Planned, ...]
    listed: int
    skipped_done: int
    done_keys: tuple[str, ...]  # already done but still under the prefix (to move, if moving)


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


def _list_entries(source: Bucket, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """(raw key, listing info) for image files under ``prefix`` (keys validated later, per item)."""
    base = source.path(prefix) if prefix.strip("/") else source.root
    if hasattr(source.fs, "invalidate_cache"):
        source.fs.invalidate_cache(base)
    if not source.fs.exists(base):
        return []
    root = source.root.rstrip("/")
    out = []
    for full, info in sorted(source.fs.find(base, detail=True).items()):
        rel = full[len(root):].lstrip("/") if root else full
        if any(part[:1] in ("_", ".") for part in rel.split("/")[:-1]):
            continue  # _ledger/, .git/ and friends (same rule as Bucket.list_keys)
        if rel.lower().endswith(IMAGE_SUFFIXES + (".json",)):
            out.append((rel, info))
    return out


def check_buckets(source: Bucket, dest: Bucket, prefix: str) -> None:
    """Refuse a destination inside the watched prefix (outputs would come back as inputs)."""
    if dest_inside_source(source, dest, prefix):
        raise ValueError(f"dest_url must not be inside the watched prefix {prefix!r} of source_url")


@task(name="plan-batch", **_IO_TASK)
def plan_batch(job: ItemJob, max_items: int | None) -> Plan:
    """List the source; drop keys the ledger already knows as done (by fingerprint, no read)."""
    source, ledger = job.source(), job.ledger()
    listed = _list_entries(source, job.prefix)
    sidecars = {key: info for key, info in listed if key.lower().endswith(".json")}
    entries = [(key, info) for key, info in listed if not key.lower().endswith(".json")]
    done = ledger.done_names()
    index = ledger.fingerprint_map()
    todo, done_keys = [], []
    for key, info in entries:
        try:
            safe_key(key)
        except UnsafeKeyError:
            if rejected_name(source.url, key, job.config_hash) not in done:
                todo.append(Planned(key, None))
            continue
        fp = fingerprint(info)
        if fp is not None and (sidecar := sidecars.get(sidecar_key(key))) is not None:
            fp = f"{fp}+{fingerprint(sidecar)}"  # a new sidecar makes the item new (item_identity)
        chash = index.get(ledger.index_id(source.url, key, fp)) if fp else None
        if chash and item_name(chash, job.config_hash) in done:
            done_keys.append(key)
        else:
            todo.append(Planned(key, fp))
    if max_items is not None:
        todo = todo[:max_items]
    return Plan(tuple(todo), len(entries), len(done_keys), tuple(done_keys))


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


def _process_product(key: str, fp: str | None, job: ItemJob) -> ItemResult:
    """One product through every stage, committed to the ledger exactly once.

    A plain module function wrapped below (not decorated in place), so Dask and process pools
    pickle it by reference instead of by value.
    """
    install_log_redaction()
    logger = get_run_logger()
    source, dest, ledger = job.source(), job.dest(), job.ledger()
    runner = get_runner(job.config_json)

    pipeline_s = 0.0

    def run() -> ItemRecord:
        nonlocal pipeline_s
        started = time.perf_counter()
        try:
            with pipeline_guard(job.config_json, job.lock):
                return runner.process_key(source, key, dest, job.batch_id)
        finally:
            pipeline_s += time.perf_counter() - started

    outcome: Outcome = process_once(
        ledger, source=source, key=key, dest=dest, batch_id=job.batch_id, item_id=runner.item_id(key),
        config_hash=job.config_hash, holder=_task_holder(), process=run, fp=fp,
    )
    moved = None
    if outcome.status in ("processed", "done"):
        moved = _move(job, source, key, outcome.record)
    rec = outcome.record
    if rec is not None:
        logger.info("%s: %s", rec.id, redact(rec.error) if rec.error else rec.verdict)
    else:
        logger.info("%s: skipped (%s) %s", key, outcome.status, outcome.detail)
    return ItemResult(outcome.status, key, rec, outcome.detail, moved, f"{socket.gethostname()}:{os.getpid()}",
                      runner_builds(job.config_hash), pipeline_s)


process_product = task(name="process-product", task_run_name="product-{key}", **_IO_TASK)(_process_product)


@task(name="move-done-inputs", **_IO_TASK)
def move_done_inputs(job: ItemJob, keys: tuple[str, ...]) -> int:
    """Move inputs that are done but still under the prefix (a run died between commit and move)."""
    source = job.source()
    for key in keys:
        if source.exists(key):
            _move(job, source, key, None)
    return len(keys)


@task(name="write-reports", **_IO_TASK)
def write_reports(job: ItemJob, backend: str, records: list[ItemRecord]) -> dict[str, str]:
    config = PipelineConfig.model_validate_json(job.config_json)
    return write_batch_reports(job.dest(), job.batch_id, backend, config, records)


@task(name="recover-batches", **_IO_TASK)
def recover_batches(job: ItemJob, holder: str) -> list[str]:
    """Write the reports of batches whose run died before writing them; close those batches."""
    ledger, dest = job.ledger(), job.dest()
    ledger.sweep()
    recovered = []
    for batch_id, meta in ledger.open_batches().items():
        if batch_id == job.batch_id:
            continue
        lease = ledger.acquire(f"batch-{batch_id}", holder, batch_id=batch_id)
        if lease is None:
            continue  # its run is alive
        records = ledger.batch_records(batch_id)
        if records and not dest.exists(f"{batch_id}/report.json"):  # died after its report: just close
            config = PipelineConfig.model_validate_json(meta.get("config_json") or "{}")
            write_batch_reports(dest, batch_id, str(meta.get("backend", "unknown")), config, records)
        ledger.close_batch(batch_id, lease)
        recovered.append(batch_id)
    return recovered


def _failed_record(key: str, exc: BaseException, item_id: str) -> ItemRecord:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return ItemRecord(id=item_id, source=redact(key), status="error",
                      error=redact(f"storage error after retries (retried next run): {reason}"))


def _collect(futures: list[Any], plan: Plan, item_id) -> tuple[list[ItemResult], list[ItemRecord]]:
    results, failed = [], []
    for planned, future in zip(plan.todo, futures):
        try:
            results.append(future.result())
        except Exception as exc:  # noqa: BLE001 - any task that failed for good becomes an error item
            failed.append(_failed_record(planned.key, exc, item_id(planned.key)))
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
    moved = move_done_inputs(job, plan.done_keys) if (options.on_success == "move" and plan.done_keys) else 0
    stats = BatchStats(job.batch_id, backend, options.runner.kind, listed=plan.listed,
                       skipped_done=plan.skipped_done, recovered_batches=tuple(recovered))
    if not plan.todo:  # one line, no artifacts: a quiet schedule stays quiet
        logger.info("nothing new under %s (%d listed, %d done%s%s)", options.prefix, plan.listed,
                    plan.skipped_done, f", {moved} inputs moved" if moved else "",
                    f", reports recovered for {', '.join(recovered)}" if recovered else "")
        return _summary(job.batch_id, [], stats, {}, recovered)
    logger.info("batch %s: %s -> %s (config %s, runner %s)", job.batch_id, redact(source_url),
                redact(dest_url), job.config_hash, options.runner.kind)

    ledger = job.ledger()
    batch_lease = ledger.open_batch(job.batch_id, holder, {
        "config_json": job.config_json, "backend": backend, "source": redact(source_url),
    })
    try:
        t1 = time.perf_counter()
        with make_task_runner(options.runner) as runner:
            futures = runner.map(process_product, {
                "key": [p.key for p in plan.todo], "fp": [p.fp for p in plan.todo], "job": unmapped(job),
            })
            results, failed = _collect(list(futures), plan, _item_id)
        timings["process"] = time.perf_counter() - t1
        timings["pipeline_sum"] = sum(r.pipeline_s for r in results)
        records = [r.record for r in results if r.status == "processed" and r.record is not None] + failed
        records.sort(key=lambda r: r.id)
        counts = {s: sum(r.status == s for r in results) for s in ("done", "leased", "lost", "changed")}
        stats = BatchStats(
            job.batch_id, backend, options.runner.kind, listed=plan.listed,
            skipped_done=plan.skipped_done + counts["done"], skipped_leased=counts["leased"], lost=counts["lost"],
            changed=counts["changed"], failed_tasks=len(failed), recovered_batches=tuple(recovered),
            moved=moved + sum(r.moved_to is not None for r in results), wall_s=timings,
        )
        t2 = time.perf_counter()
        paths = write_reports(job, backend, records) if records else {}
        timings["report"] = time.perf_counter() - t2
        timings["total"] = time.perf_counter() - t0
        publish(records, stats, paths.get("html"),
                review=announce_review_waiting(dest_url, json.loads(job.dest_options_json), job.batch_id))
        for line in fallback_lines(fallback_counts(records), len(records)):
            logger.warning("batch %s: %s (see report.html)", job.batch_id, line)
        ledger.close_batch(job.batch_id, batch_lease)
    except BaseException:
        batch_lease.release()  # the open marker stays: the next run writes this batch's report
        raise
    logger.info("batch %s: %d processed, %d skipped as done, %d leased elsewhere, %d storage failures",
                job.batch_id, len(records) - len(failed), stats.skipped_done, stats.skipped_leased, len(failed))
    summary = _summary(job.batch_id, records, stats, paths, recovered)
    summary["workers"] = {r.worker: r.runner_builds for r in results}
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    return summary


def _item_id(key: str) -> str:
    from pipeline.batch import item_id_for_key

    return item_id_for_key(key)


def _summary(batch_id: str, records: list[ItemRecord], stats: BatchStats, paths: dict[str, str],
             recovered: list[str]) -> dict[str, Any]:
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
    }
