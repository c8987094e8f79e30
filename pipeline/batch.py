"""Batches: list a source bucket, run every product, write outputs and reports.

The per-item entry point (:meth:`BatchRunner.process_key`) is shared by the CLI and the Prefect
flows. It never raises for a bad product (the item becomes ``status="error"`` with a one-line
reason); it re-raises transient storage errors so an orchestrator can retry them.

Output layout: ``DEST/<batch_id>/<item_id>/{composite.<png|jpg|webp>,mask,canny,depth}.png`` and
``meta.json`` (written last: its presence marks the item complete), reports in ``DEST/<batch_id>/``.
Every source key gets its own item folder and report row; a key whose bytes and sidecar equal an
earlier key's reuses that result (written again under its own name, ``duplicate_of`` set).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from pipeline import __version__
from pipeline.compose import Stages, build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.errors import ImageDecodeError, PipelineError, UnsafeKeyError
from pipeline.batching.plan import Planned, plan_groups
from pipeline.batching.pool import run_groups_in_pool
from pipeline.io.formats import extension, is_decodable_key, unsupported_reason
from pipeline.io.imageio import encode_image, encode_png, thumbnail_data_uri
from pipeline.io.storage import Bucket, dest_inside_source, options_for_url, safe_key
from pipeline.ledger import Ledger, process_once
from pipeline.ledger.identities import result_identity, sidecar_key
from pipeline.ledger.store import is_transient_error
from pipeline.models.fingerprints import output_inputs
from pipeline.redact import redact
from pipeline.report import build_report, write_reports
from pipeline.restore.regions import parse_sidecar
from pipeline.review.reports import read_decisions, report_decisions
from pipeline.review.views import original_in_frame
from pipeline.scene.themes import get_theme
from pipeline.types import ItemRecord, ProductResult

log = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 1 << 20
REUSE_CACHE_ITEMS = 8
COMPOSITE_SUFFIX = {"png": "png", "jpeg": "jpg", "webp": "webp"}
Progress = Callable[[ItemRecord], None]


def new_batch_id() -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sortable by time, unique across machines."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{secrets.token_hex(3)}"


def item_id_for_key(key: str) -> str:
    """A folder name for a source key, one per key: a readable stem (path separators become
    ``__``, odd characters ``_``, at most 80 characters) plus 8 hex of the key's sha256, so
    ``shoes/red.png`` and ``shoes__red.png`` never share a folder."""
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", key.replace("/", "__")).lstrip(".")[:80] or "item"
    return f"{readable}-{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def item_seed(base_seed: int, item_id: str) -> int:
    """Per-item seed: stable across runs and machines, different between items."""
    return (base_seed * 1_000_003 + zlib.crc32(item_id.encode())) % (2**31 - 1)


def _gray_to_png(mask: np.ndarray) -> bytes:
    return encode_png((mask.astype(np.uint8) * 255) if mask.dtype == bool else mask)


class BatchRunner:
    """Holds the stages (models loaded once) and processes keys one at a time.

    Keeps the last few results by :func:`~pipeline.ledger.identities.result_identity`, so a key
    whose bytes and sidecar equal an earlier key's reuses its result. Not thread-safe for
    backends that hold a model; the flows give each worker its own runner or a lock.
    """

    def __init__(self, config: PipelineConfig, *, stages: Stages | None = None):
        self.config = config
        self.config_inputs = output_inputs(config)
        self.config_hash = config.config_hash()
        self.stages = stages or build_stages(config)
        self._reuse: OrderedDict[str, tuple[ItemRecord, dict[str, bytes], dict[str, Any] | None]] = OrderedDict()
        self._reuse_lock = threading.Lock()  # the flows' thread runner shares one runner

    @staticmethod
    def item_id(key: str) -> str:
        return item_id_for_key(key)

    def process_key(self, source: Bucket, key: str, dest: Bucket, batch_id: str) -> ItemRecord:
        """Read ``key`` from ``source``, run it, write its outputs under ``dest/batch_id``."""
        item_id = self.item_id(key)
        try:
            safe = safe_key(key)
            if not is_decodable_key(safe):
                raise ImageDecodeError(unsupported_reason(extension(safe)))
            data = source.read_bytes(safe, max_bytes=self.config.decode.max_bytes)
            sidecar_bytes = self._read_sidecar(source, safe)
            sidecar = parse_sidecar(sidecar_bytes, sidecar_key(safe)) if sidecar_bytes is not None else None
        except Exception as exc:
            if is_transient_error(exc):
                raise  # a storage hiccup: the caller may retry
            if isinstance(exc, PipelineError | ValueError | OSError):
                return _error_record(item_id, key, exc)
            raise
        content_hash = hashlib.sha256(data).hexdigest()
        identity = result_identity(content_hash, None if sidecar_bytes is None
                                   else hashlib.sha256(sidecar_bytes).hexdigest())
        prefix = f"{safe_key(batch_id)}/{item_id}"
        with self._reuse_lock:
            reused = self._reuse.get(identity)
            if reused is not None:
                self._reuse.move_to_end(identity)
        if reused is not None:
            return self._write_copy(dest, prefix, key, item_id, *reused)
        seed = item_seed(self.config.run.seed, item_id)
        try:
            result = process_product(data, name=key, config=self.config, stages=self.stages,
                                     seed=seed, sidecar=sidecar)
        except (PipelineError, ValueError) as exc:
            return self._remember(identity, _error_record(item_id, key, exc, content_hash), {}, None)
        except Exception as exc:  # a bug must not stop the batch; it is logged with its traceback
            log.exception("internal error on %s", key)
            return _error_record(item_id, key, exc, content_hash, prefix="internal error")
        files, meta = self._encode_outputs(key, content_hash, result)
        outputs = _write_files(dest, prefix, files, meta)
        record = ItemRecord(
            id=item_id, source=key, status="ok", verdict=result.verdict.label,
            reasons=result.verdict.reasons, metrics=result.metrics.as_dict(), outputs=outputs,
            timings_ms=result.timings_ms, content_hash=content_hash,
            backends=result.provenance["backends"], thumbnails=_thumbnails(result), notes=_notes(result),
            fallbacks=_fallbacks(result),
        )
        return self._remember(identity, record, files, meta)

    def _remember(self, identity: str, record: ItemRecord, files: dict[str, bytes],
                  meta: dict[str, Any] | None) -> ItemRecord:
        with self._reuse_lock:
            self._reuse[identity] = (record, files, meta)
            while len(self._reuse) > REUSE_CACHE_ITEMS:
                self._reuse.popitem(last=False)
        return record

    def _write_copy(self, dest: Bucket, prefix: str, key: str, item_id: str, record: ItemRecord,
                    files: dict[str, bytes], meta: dict[str, Any] | None) -> ItemRecord:
        """The earlier result for equal bytes + sidecar, written again under this key's folder."""
        primary = record.source
        log.info("%s: same bytes and sidecar as %s; reusing its result", key, primary)
        outputs = {}
        if meta is not None:
            meta = {**meta, "source": key, "duplicate_of": primary}
            outputs = _write_files(dest, prefix, files, meta)
        return replace(record, id=item_id, source=key, outputs=outputs, duplicate_of=primary,
                       timings_ms={"reused": 0.0})

    def _read_sidecar(self, source: Bucket, key: str) -> bytes | None:
        """The sidecar's bytes (at most MAX_SIDECAR_BYTES), None when the photo has none."""
        skey = sidecar_key(key)
        if skey == key or not source.exists(skey):
            return None
        return source.read_bytes(skey, max_bytes=MAX_SIDECAR_BYTES)

    def _encode_outputs(self, key: str, content_hash: str, result: ProductResult
                        ) -> tuple[dict[str, bytes], dict[str, Any]]:
        """(output name -> (file name, bytes) in writing order, meta.json dict). The composite in
        ``config.output.format``; mask and control maps PNG."""
        fmt, quality = self.config.output.format, self.config.output.quality
        suffix = COMPOSITE_SUFFIX[fmt]
        files = {
            f"composite.{suffix}": encode_image(result.composite, fmt, quality),
            "mask.png": _gray_to_png(result.segmentation.mask),
            "canny.png": encode_png(result.control.canny[..., 0]),
            "depth.png": encode_png(result.control.depth[..., 0]),
            # the input photo in the composite's frame, for the review page (pipeline.review)
            "original.png": encode_png(original_in_frame(result.decoded.rgb, result.placed)),
        }
        meta = {
            "source": key, "content_sha256": content_hash, "config_hash": self.config_hash,
            "config_hash_inputs": self.config_inputs,
            "package_version": __version__, "versions": _versions(),
            "verdict": result.verdict.label, "reasons": list(result.verdict.reasons),
            "metrics": result.metrics.as_dict(), "timings_ms": result.timings_ms,
            "source_icc_profile": result.decoded.info.get("icc_profile"),
            **result.provenance,
        }
        if len(result.variants) > 1:
            meta["variants"] = []
            for k, variant in enumerate(result.variants):
                files[f"composite_v{k}.{suffix}"] = encode_image(variant.composite, fmt, quality)
                meta["variants"].append({"composite": f"composite_v{k}.{suffix}", "verdict": variant.verdict.label,
                                         "reasons": list(variant.verdict.reasons),
                                         "metrics": variant.metrics.as_dict(), "seed": variant.scene.info.get("seed")})
        return files, meta


def _write_files(dest: Bucket, prefix: str, files: dict[str, bytes], meta: dict[str, Any]) -> dict[str, str]:
    """Each file atomically, ``meta.json`` last so its presence means the item is whole.
    Returns output name (``composite``, ``mask``, ..., ``meta``) -> written path or URL."""
    outputs = {name.rpartition(".")[0]: dest.write_bytes(f"{prefix}/{name}", data) for name, data in files.items()}
    outputs["meta"] = dest.write_text(f"{prefix}/meta.json", json.dumps(meta, indent=2, default=str))
    return outputs


def _notes(result: ProductResult) -> tuple[str, ...]:
    """What a reviewer should know that the gate does not say (first frame only, colour profile)."""
    info = result.decoded.info
    notes = []
    if (info.get("n_frames") or 1) > 1:
        notes.append(f"first frame of {info['n_frames']} only ({info.get('format')})")
    icc = info.get("icc_profile") or {}
    if icc.get("converted"):
        notes.append(f"colours converted to sRGB from {icc.get('description')}")
    elif icc.get("error"):
        notes.append(f"ICC profile {icc.get('description')} not applied: {icc['error']}")
    return tuple(notes)


def _fallbacks(result: ProductResult) -> dict[str, str]:
    """stage -> why the configured backend was not used (the SAM segmenter falling back)."""
    reason = result.segmentation.info.get("fallback_reason")
    return {"segment": str(reason)} if reason else {}


def _thumbnails(result: ProductResult) -> dict[str, str]:
    return {
        "original": thumbnail_data_uri(result.decoded.rgb),
        "mask": thumbnail_data_uri(np.repeat((result.segmentation.mask * 255).astype(np.uint8)[..., None], 3, 2)),
        "canny": thumbnail_data_uri(result.control.canny),
        "depth": thumbnail_data_uri(result.control.depth),
        "composite": thumbnail_data_uri(result.composite),
    }


def _error_record(item_id: str, key: str, exc: BaseException, content_hash: str | None = None,
                  prefix: str | None = None) -> ItemRecord:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, UnsafeKeyError):
        reason = f"rejected key: {reason}"
    elif isinstance(exc, OSError) and not isinstance(exc, PipelineError):
        reason = f"could not read: {reason}"
    if prefix:
        reason = f"{prefix}: {type(exc).__name__}: {reason}"
    log.warning("item %s failed: %s", key, reason)
    return ItemRecord(id=item_id, source=key, status="error", error=reason, content_hash=content_hash)


def _versions() -> dict[str, str]:
    return {"numpy": np.__version__, "opencv": cv2.__version__}


def write_batch_reports(dest: Bucket, batch_id: str, backend: str, config: PipelineConfig,
                        records: list[ItemRecord]) -> dict[str, str]:
    """Write ``report.json``, ``report.csv`` and ``report.html`` under ``dest/batch_id``;
    return {"json"|"csv"|"html": written path or URL}."""
    return _write_reports(dest, batch_id, backend, config, records)[1]


def _write_reports(dest: Bucket, batch_id: str, backend: str, config: PipelineConfig,
                   records: list[ItemRecord], skipped: dict[str, int] | None = None,
                   run: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    extra: dict[str, Any] = {"gate": config.score.gate.model_dump(), "config_hash_inputs": output_inputs(config)}
    if run:
        extra["run"] = dict(run)  # worker processes and the CPU seconds they and this process used
    if skipped:
        extra["skipped"] = dict(skipped)
    report = build_report(batch_id, backend, config.config_hash(), records, extra=extra)
    if (decided := read_decisions(dest, batch_id)) is not None:  # a rerun keeps reviewers' decisions
        report["decisions"] = report_decisions(decided, [r.id for r in records])
    prefix = safe_key(batch_id)
    paths = write_reports(lambda name, data: dest.write_bytes(f"{prefix}/{name}", data), batch_id, report, records)
    return report, paths


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
    workers: processes (each builds its stages once; see :mod:`pipeline.batching.pool`); 1 runs
    here, in this process, with ``runner`` when given.
    Returns (batch_id, report dict, records of the items processed now, in listing order).
    ``progress`` is called after each item and ``on_start`` with the item count. Never raises
    for bad items.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    source, dest = open_buckets(source_url, dest_url, storage_options)
    batch_id = batch_id or new_batch_id()
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
    report, paths = _write_reports(dest, batch_id, backend, config, records, skipped, run)
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


def open_buckets(source_url: str, dest_url: str, storage_options: dict[str, Any] | None) -> tuple[Bucket, Bucket]:
    """Source and destination buckets; storage options go to remote URLs only."""
    return (Bucket(source_url, options_for_url(source_url, storage_options)),
            Bucket(dest_url, options_for_url(dest_url, storage_options)))


def _scene_backend_name(config: PipelineConfig, records: list[ItemRecord]) -> str:
    """The scene backend the workers used (as their records say), else the configured one."""
    return next((r.backends["scene"] for r in records if r.backends.get("scene")), config.scene.backend)


def process_group(runner: BatchRunner, ledger: Ledger | None, source: Bucket, group: list[Planned], dest: Bucket,
                  batch_id: str) -> list[tuple[str, ItemRecord | None, str | None]]:
    """Keys with one result identity, first key first (the others reuse its result).

    Returns (key, record, None) per processed key and (key, None, ledger status) per skipped
    one. A transient storage error becomes that key's ``error`` record (not committed: the next
    run retries it); any other exception is a bug and propagates.
    """
    out: list[tuple[str, ItemRecord | None, str | None]] = []
    for planned in group:
        key = planned.key
        try:
            out.append(_process_one(runner, ledger, source, planned, dest, batch_id))
        except Exception as exc:
            if not is_transient_error(exc):
                raise
            out.append((key, _error_record(runner.item_id(key), key, exc, prefix="storage error"), None))
    return out


def _process_one(runner: BatchRunner, ledger: Ledger | None, source: Bucket, planned: Planned, dest: Bucket,
                 batch_id: str) -> tuple[str, ItemRecord | None, str | None]:
    """One key, through the ledger when there is one."""
    key = planned.key
    if ledger is None:
        return key, runner.process_key(source, key, dest, batch_id), None
    outcome = process_once(ledger, source=source, key=key, dest=dest, batch_id=batch_id,
                           item_id=runner.item_id(key), config_hash=runner.config_hash,
                           holder=f"cli-{batch_id}-{secrets.token_hex(4)}",
                           process=lambda: runner.process_key(source, key, dest, batch_id),
                           content_hash=planned.content_hash, sidecar=planned.sidecar)
    if outcome.status == "processed" and outcome.record is not None:
        return key, outcome.record, None
    return key, None, outcome.status
