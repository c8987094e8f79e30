"""One item: read a key (and its sidecar), run it through every stage, write its outputs; through
the ledger when there is one.

The per-item entry point (:meth:`BatchRunner.process_key`) is shared by the CLI and the Prefect
flows. It never raises for a bad product (the item becomes ``status="error"`` with a one-line
reason); it re-raises transient storage errors so an orchestrator can retry them. Every source
key gets its own item folder and report row; a key whose bytes and sidecar equal an earlier
key's reuses that result (written again under its own name, ``duplicate_of`` set).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from pipeline.batch.ids import item_id_for_key, item_seed
from pipeline.batch.outputs import encode_outputs, fallbacks, notes, thumbnails, write_files
from pipeline.batch.plan import Planned
from pipeline.compose import Stages, build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.errors import ImageDecodeError, PipelineError, UnsafeKeyError
from pipeline.io.formats import extension, is_decodable_key, unsupported_reason
from pipeline.io.storage import Bucket, safe_key
from pipeline.io.transient import is_transient_error
from pipeline.ledger import Ledger, process_once
from pipeline.ledger.identities import result_identity, sidecar_key
from pipeline.models.fingerprints import config_hash, output_inputs
from pipeline.place.sidecar import parse_sidecar
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 1 << 20
REUSE_CACHE_ITEMS = 8


class BatchRunner:
    """Holds the stages (models loaded once) and processes keys one at a time.

    Keeps the last few results by :func:`~pipeline.ledger.identities.result_identity`, so a key
    whose bytes and sidecar equal an earlier key's reuses its result. Not thread-safe for
    backends that hold a model; the flows give each worker its own runner or a lock.
    """

    def __init__(self, config: PipelineConfig, *, stages: Stages | None = None):
        self.config = config
        self.config_inputs = output_inputs(config)
        self.config_hash = config_hash(config)
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
                return error_record(item_id, key, exc)
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
            return self._remember(identity, error_record(item_id, key, exc, content_hash), {}, None)
        except Exception as exc:  # a bug must not stop the batch; it is logged with its traceback
            log.exception("internal error on %s", key)
            return error_record(item_id, key, exc, content_hash, prefix="internal error")
        files, meta = encode_outputs(self.config, self.config_hash, self.config_inputs, key, content_hash, result)
        outputs = write_files(dest, prefix, files, meta)
        record = ItemRecord(
            id=item_id, source=key, status="ok", verdict=result.verdict.label,
            reasons=result.verdict.reasons, metrics=result.metrics.as_dict(), outputs=outputs,
            timings_ms=result.timings_ms, content_hash=content_hash,
            backends=result.provenance["backends"], thumbnails=thumbnails(result), notes=notes(result),
            fallbacks=fallbacks(result),
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
            outputs = write_files(dest, prefix, files, meta)
        return replace(record, id=item_id, source=key, outputs=outputs, duplicate_of=primary,
                       timings_ms={"reused": 0.0})

    def _read_sidecar(self, source: Bucket, key: str) -> bytes | None:
        """The sidecar's bytes (at most MAX_SIDECAR_BYTES), None when the photo has none."""
        skey = sidecar_key(key)
        if skey == key or not source.exists(skey):
            return None
        return source.read_bytes(skey, max_bytes=MAX_SIDECAR_BYTES)


def error_record(item_id: str, key: str, exc: BaseException, content_hash: str | None = None,
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
            out.append((key, error_record(runner.item_id(key), key, exc, prefix="storage error"), None))
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
