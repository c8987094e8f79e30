"""Batches: list a source bucket, run every product, write outputs and reports.

The per-item entry point (:meth:`BatchRunner.process_key`) is shared by the CLI and the Prefect
flows. It never raises for a bad product (the item becomes ``status="error"`` with a one-line
reason); it re-raises transient storage errors so an orchestrator can retry them.

Output layout: ``DEST/<batch_id>/<item_id>/{composite,mask,canny,depth}.png`` and ``meta.json``
(written last: its presence marks the item complete), reports in ``DEST/<batch_id>/``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import re
import secrets
import zlib
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from pipeline import __version__
from pipeline.compose import Stages, build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError, UnsafeKeyError
from pipeline.io.imageio import encode_png, thumbnail_data_uri
from pipeline.ledger import Ledger, process_once
from pipeline.ledger.store import is_transient_error
from pipeline.redact import redact
from pipeline.report import build_report, write_reports
from pipeline.restore.regions import parse_sidecar
from pipeline.io.storage import Bucket, safe_key
from pipeline.types import ItemRecord, ProductResult

log = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 1 << 20
Progress = Callable[[ItemRecord], None]


def new_batch_id() -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sortable by time, unique across machines."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{secrets.token_hex(3)}"


def item_id_for_key(key: str) -> str:
    """A folder name for a source key: path separators become ``__``, odd characters ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key.replace("/", "__")).lstrip(".") or "item"


def item_seed(base_seed: int, item_id: str) -> int:
    """Per-item seed: stable across runs and machines, different between items."""
    return (base_seed * 1_000_003 + zlib.crc32(item_id.encode())) % (2**31 - 1)


def sidecar_key(key: str) -> str:
    """``shoes/red.jpg`` -> ``shoes/red.json``."""
    stem, dot, _ = key.rpartition(".")
    return f"{stem}.json" if dot else f"{key}.json"


def _gray_to_png(mask: np.ndarray) -> bytes:
    return encode_png((mask.astype(np.uint8) * 255) if mask.dtype == bool else mask)


class BatchRunner:
    """Holds the stages (models loaded once) and processes keys one at a time.

    Not thread-safe for backends that hold a model; the flows give each worker its own runner
    or a lock.
    """

    def __init__(self, config: PipelineConfig, *, stages: Stages | None = None):
        self.config = config
        self.config_hash = config.config_hash()
        self.stages = stages or build_stages(config)

    @staticmethod
    def item_id(key: str) -> str:
        return item_id_for_key(key)

    def process_key(self, source: Bucket, key: str, dest: Bucket, batch_id: str) -> ItemRecord:
        """Read ``key`` from ``source``, run it, write its outputs under ``dest/batch_id``."""
        item_id = self.item_id(key)
        try:
            safe = safe_key(key)
            data = source.read_bytes(safe, max_bytes=self.config.decode.max_bytes)
            sidecar = self._read_sidecar(source, safe)
        except Exception as exc:
            if is_transient_error(exc):
                raise  # a storage hiccup: the caller may retry
            if isinstance(exc, PipelineError | ValueError | OSError):
                return _error_record(item_id, key, exc)
            raise
        content_hash = hashlib.sha256(data).hexdigest()
        seed = item_seed(self.config.run.seed, item_id)
        try:
            result = process_product(data, name=key, config=self.config, stages=self.stages,
                                     seed=seed, sidecar=sidecar)
        except (PipelineError, ValueError) as exc:
            return _error_record(item_id, key, exc, content_hash)
        except Exception as exc:  # a bug must not stop the batch; it is logged with its traceback
            log.exception("internal error on %s", key)
            return _error_record(item_id, key, exc, content_hash, prefix="internal error")
        outputs = self._write_outputs(dest, f"{safe_key(batch_id)}/{item_id}", key, content_hash, result)
        return ItemRecord(
            id=item_id, source=key, status="ok", verdict=result.verdict.label,
            reasons=result.verdict.reasons, metrics=result.metrics.as_dict(), outputs=outputs,
            timings_ms=result.timings_ms, content_hash=content_hash,
            backends=result.provenance["backends"], thumbnails=_thumbnails(result),
            fallbacks=_fallbacks(result),
        )

    def _read_sidecar(self, source: Bucket, key: str) -> dict[str, Any] | None:
        skey = sidecar_key(key)
        if skey == key or not source.exists(skey):
            return None
        return parse_sidecar(source.read_bytes(skey, max_bytes=MAX_SIDECAR_BYTES), skey)

    def _write_outputs(self, dest: Bucket, prefix: str, key: str, content_hash: str,
                       result: ProductResult) -> dict[str, str]:
        """Each file atomically; ``meta.json`` last so its presence means the item is whole."""
        outputs = {
            "composite": dest.write_bytes(f"{prefix}/composite.png", encode_png(result.composite)),
            "mask": dest.write_bytes(f"{prefix}/mask.png", _gray_to_png(result.segmentation.mask)),
            "canny": dest.write_bytes(f"{prefix}/canny.png", encode_png(result.control.canny[..., 0])),
            "depth": dest.write_bytes(f"{prefix}/depth.png", encode_png(result.control.depth[..., 0])),
        }
        meta = {
            "source": key, "content_sha256": content_hash, "config_hash": self.config_hash,
            "package_version": __version__, "versions": _versions(),
            "verdict": result.verdict.label, "reasons": list(result.verdict.reasons),
            "metrics": result.metrics.as_dict(), "timings_ms": result.timings_ms,
            **result.provenance,
        }
        if len(result.variants) > 1:
            meta["variants"] = []
            for k, variant in enumerate(result.variants):
                path = dest.write_bytes(f"{prefix}/composite_v{k}.png", encode_png(variant.composite))
                outputs[f"composite_v{k}"] = path
                meta["variants"].append({"composite": path, "verdict": variant.verdict.label,
                                         "reasons": list(variant.verdict.reasons),
                                         "metrics": variant.metrics.as_dict(), "seed": variant.scene.info.get("seed")})
        outputs["meta"] = dest.write_text(f"{prefix}/meta.json", json.dumps(meta, indent=2, default=str))
        return outputs


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
                   records: list[ItemRecord], skipped: dict[str, int] | None = None
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    extra: dict[str, Any] = {"gate": config.score.gate.model_dump()}
    if skipped:
        extra["skipped"] = dict(skipped)
    report = build_report(batch_id, backend, config.config_hash(), records, extra=extra)
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
) -> tuple[str, dict[str, Any], list[ItemRecord]]:
    """Process every image under ``source_url/prefix`` into ``dest_url/<batch_id>``.

    skip_done: keep a ledger in ``dest_url/_ledger`` and skip photos already processed with this
    exact config (same bytes, same config hash), so a killed run can simply be run again; each
    item is committed once, after its outputs are written.
    Returns (batch_id, report dict, records of the items processed now). ``progress`` is called
    after each item and ``on_start`` with the item count. Never raises for bad items.
    """
    source = Bucket(source_url, _options_for(source_url, storage_options))
    dest = Bucket(dest_url, _options_for(dest_url, storage_options))
    batch_id = batch_id or new_batch_id()
    runner = runner or BatchRunner(config)
    keys = source.list_images(prefix)
    log.info("batch %s: %d images from %s", batch_id, len(keys), redact(source.url))
    if on_start:
        on_start(len(keys))
    ledger = Ledger(dest) if skip_done else None
    records, skipped = [], {}
    for key in keys:
        try:
            record = _process_one(runner, ledger, source, key, dest, batch_id, skipped)
        except Exception as exc:
            if not is_transient_error(exc):
                raise
            record = _error_record(runner.item_id(key), key, exc, prefix="storage error")
        if record is not None:
            records.append(record)
        if progress:
            progress(record or ItemRecord(id=runner.item_id(key), source=key, status="skipped"))
    if skipped:
        log.info("batch %s: skipped %d already processed: %s", batch_id, sum(skipped.values()), skipped)
    report, paths = _write_reports(dest, batch_id, runner.stages.scene.name, config, records, skipped)
    return batch_id, {**report, "paths": paths}, records


def _options_for(url: str, storage_options: dict[str, Any] | None) -> dict[str, Any] | None:
    """Storage options (an S3 endpoint, say) apply to remote URLs only, never to a local folder."""
    remote = "://" in url and not url.startswith(("file://", "local://"))
    return storage_options if remote else None


def _process_one(runner: BatchRunner, ledger: Ledger | None, source: Bucket, key: str, dest: Bucket,
                 batch_id: str, skipped: dict[str, int]) -> ItemRecord | None:
    """One key, through the ledger when there is one; None when it was skipped."""
    if ledger is None:
        return runner.process_key(source, key, dest, batch_id)
    outcome = process_once(ledger, source=source, key=key, dest=dest, batch_id=batch_id,
                           item_id=runner.item_id(key), config_hash=runner.config_hash,
                           holder=f"cli-{batch_id}-{secrets.token_hex(4)}",
                           process=lambda: runner.process_key(source, key, dest, batch_id))
    if outcome.status == "processed" and outcome.record is not None:
        return outcome.record
    skipped[outcome.status] = skipped.get(outcome.status, 0) + 1
    return None
