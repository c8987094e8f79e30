"""One item: read a key and its sidecar once, run it through every stage, write its outputs;
through the ledger when there is one.

:func:`run_item` is the one per-item path of the CLI, its worker processes and the Prefect flow.
It reads the photo and its sidecar once (:func:`read_item`), names the item by the bytes it read
(key + photo + sidecar, :func:`~pipeline.ledger.identities.item_identity`), and computes and
commits exactly those bytes: a sidecar rewritten mid-run is a new item for the next run, never
committed under the old one's name. It never raises for a bad file: every exception becomes the
item's ``error`` row (:mod:`pipeline.batch.failures`), except transient storage errors, which it
re-raises so an orchestrator can retry them. A key whose bytes and sidecar equal an earlier
key's reuses that result (written again under its own name, ``duplicate_of`` set).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pipeline.batch.failures import classify, error_record, problem_record
from pipeline.batch.ids import item_id_for_key, item_seed
from pipeline.batch.outputs import encode_outputs, fallbacks, notes, write_files
from pipeline.batch.plan import Planned
from pipeline.catalogue.stored_fixes import stored_fix_segmentation
from pipeline.compose import Stages, build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.errors import ImageDecodeError, InputTooLargeError, NotRegularFileError, SidecarError
from pipeline.io.formats import LISTED_EXTENSIONS, extension, is_decodable_key, unsupported_reason
from pipeline.io.storage import Bucket, safe_key
from pipeline.ledger import Ledger, Outcome, TransientItemError, commit_failure, process_once
from pipeline.ledger.identities import result_identity, sidecar_key
from pipeline.models.fingerprints import config_hash, output_inputs
from pipeline.place.sidecar import MAX_BYTES as MAX_SIDECAR_BYTES
from pipeline.place.sidecar import parse_sidecar
from pipeline.redact import redact
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

REUSE_CACHE_ITEMS = 8
GroupResult = tuple[str, "ItemRecord | None", "str | None"]


@dataclass(frozen=True)
class ItemInput:
    """What was read for one key: the photo's bytes and its sidecar's (None without one)."""

    key: str
    data: bytes
    content_hash: str
    sidecar_key: str | None = None
    sidecar_bytes: bytes | None = None
    sidecar_hash: str | None = None

    @property
    def result_identity(self) -> str:
        return result_identity(self.content_hash, self.sidecar_hash)


def display_key(key: str) -> str:
    """``key`` as a report shows it: unsafe keys (control characters) as their escaped repr."""
    try:
        safe_key(key)
        return key
    except ValueError:
        return redact(repr(key)[1:-1])


def read_item(source: Bucket, key: str, *, max_bytes: int, size: int | None = None,
              has_sidecar: bool | None = None) -> ItemInput:
    """Read ``key`` (at most ``max_bytes``) and its sidecar once.

    size: the key's size from the listing (saves a size lookup). has_sidecar: whether the listing
    showed a sidecar (None: look). Raises ``UnsafeKeyError``, ``ImageDecodeError`` (a format this
    installation never decodes, too large), ``NotRegularFileError``, ``SidecarError`` and read
    errors (``OSError``; transient ones are worth a retry).
    """
    safe = safe_key(key)
    if safe.lower().endswith(LISTED_EXTENSIONS) and not is_decodable_key(safe):
        raise ImageDecodeError(unsupported_reason(extension(safe)))  # an image format never decoded here: unread
    data = source.read_bytes(safe, max_bytes=max_bytes, size=size)
    skey = sidecar_key(safe)
    sidecar_bytes = None
    if skey != safe and (has_sidecar if has_sidecar is not None else source.exists(skey)):
        sidecar_bytes = _read_sidecar(source, skey)
    return ItemInput(safe, data, hashlib.sha256(data).hexdigest(), skey if sidecar_bytes is not None else None,
                     sidecar_bytes, None if sidecar_bytes is None else hashlib.sha256(sidecar_bytes).hexdigest())


def _read_sidecar(source: Bucket, skey: str) -> bytes | None:
    """The sidecar's bytes; None when it vanished since the listing; ``SidecarError`` naming it
    when it cannot be used (too large, not a file, unreadable)."""
    try:
        return source.read_bytes(skey, max_bytes=MAX_SIDECAR_BYTES)
    except FileNotFoundError:
        return None
    except InputTooLargeError as exc:
        size = f"{exc.size} bytes" if exc.size else f"more than {MAX_SIDECAR_BYTES} bytes"
        raise SidecarError(f"sidecar {skey} is too large: {size} (at most {MAX_SIDECAR_BYTES})") from None
    except NotRegularFileError as exc:
        what = str(exc).split(" but ", 1)[-1].split(";")[0]
        raise SidecarError(f"sidecar {skey} is not a file but {what}") from None
    except OSError as exc:
        if classify(exc) == "transient":
            raise
        raise SidecarError(f"could not read sidecar {skey}: {exc.strerror or exc}") from None


class StagesUnavailable(RuntimeError):
    """The configured stages cannot be built here (missing weights or packages): no item can run,
    so the batch stops instead of giving every item the same error row."""


class BatchRunner:
    """Holds the stages (models loaded once, on the first item that needs them) and processes items.

    Keeps the last few results by result identity, so a key whose bytes and sidecar equal an
    earlier key's reuses its result. Not thread-safe for backends that hold a model; the flows
    give each worker its own runner or a lock.
    """

    def __init__(self, config: PipelineConfig, *, stages: Stages | None = None):
        self.config = config
        self.config_inputs = output_inputs(config)
        self.config_hash = config_hash(config)
        self._stages = stages
        self._stages_lock = threading.Lock()
        self._reuse: OrderedDict[str, tuple[ItemRecord, dict[str, bytes], dict[str, Any] | None]] = OrderedDict()
        self._reuse_lock = threading.Lock()  # the flows' thread runner shares one runner

    @property
    def stages(self) -> Stages:
        """The stages, built on first use (a run with nothing new loads no model). A stage that
        cannot be built is the batch's problem, not an item's: :class:`StagesUnavailable`."""
        if self._stages is None:
            with self._stages_lock:
                if self._stages is None:
                    try:
                        self._stages = build_stages(self.config)
                    except Exception as exc:
                        raise StagesUnavailable(f"the stages could not be built: {exc}") from exc
        return self._stages

    @property
    def stages_built(self) -> bool:
        return self._stages is not None

    @staticmethod
    def item_id(key: str) -> str:
        return item_id_for_key(key)

    def process_key(self, source: Bucket, key: str, dest: Bucket, batch_id: str) -> ItemRecord:
        """Read ``key`` from ``source``, run it, write its outputs under ``dest/batch_id`` (no
        ledger). Never raises for a bad file; re-raises transient storage errors."""
        try:
            item = read_item(source, key, max_bytes=self.config.decode.max_bytes)
        except Exception as exc:
            if classify(exc) == "transient":
                raise
            return error_record(self.item_id(key), display_key(key), exc)
        return self.process_input(item, dest, batch_id)

    def process_input(self, item: ItemInput, dest: Bucket, batch_id: str) -> ItemRecord:
        """Run the bytes of ``item`` through every stage and write the outputs under
        ``dest/batch_id/<item_id>``. Never raises for a bad file; re-raises transient errors
        (an output that could not be written is one: the item is tried again)."""
        key, item_id = item.key, self.item_id(item.key)
        identity = item.result_identity
        prefix = f"{safe_key(batch_id)}/{item_id}"
        with self._reuse_lock:
            reused = self._reuse.get(identity)
            if reused is not None:
                self._reuse.move_to_end(identity)
        if reused is not None:
            return self._write_copy(dest, prefix, key, item_id, *reused)
        seed = item_seed(self.config.run.seed, item_id)
        stages = self.stages  # outside the item's try: StagesUnavailable stops the batch
        try:
            sidecar = parse_sidecar(item.sidecar_bytes, item.sidecar_key or "") if item.sidecar_bytes is not None \
                else None
            result = process_product(item.data, name=key, config=self.config, stages=stages, seed=seed,
                                     sidecar=sidecar, segmentation=stored_fix_segmentation(
                                         dest, item.data, content_hash=item.content_hash, name=key, sidecar=sidecar,
                                         config=self.config, stages=stages))  # a reviewer's stored fix, if any
            files, meta = encode_outputs(self.config, self.config_hash, self.config_inputs, key, item.content_hash,
                                         result)
        except Exception as exc:
            if classify(exc) == "transient":
                raise
            record = error_record(item_id, key, exc, item.content_hash)
            return self._remember(identity, record, {}, None) if classify(exc) == "input" else record
        outputs = _write(dest, prefix, key, files, meta)
        record = ItemRecord(
            id=item_id, source=key, status="ok", verdict=result.verdict.label,
            reasons=result.verdict.reasons, metrics=result.metrics.as_dict(), outputs=outputs,
            timings_ms=result.timings_ms, content_hash=item.content_hash,
            backends=result.provenance["backends"], notes=notes(result),
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
            outputs = _write(dest, prefix, key, files, meta)
        return replace(record, id=item_id, source=key, outputs=outputs, duplicate_of=primary,
                       timings_ms={"reused": 0.0})


def _write(dest: Bucket, prefix: str, key: str, files: dict[str, bytes], meta: dict[str, Any]) -> dict[str, str]:
    """The item's files; a write that fails is the destination's problem, not the photo's: it is
    raised as transient (the item is not committed and is tried again)."""
    try:
        return write_files(dest, prefix, files, meta)
    except OSError as exc:
        if classify(exc) == "transient":
            raise
        raise TransientItemError(f"could not write the outputs of {key} to {redact(dest.url)}: "
                                 f"{exc.strerror or exc}") from exc


def run_item(runner: BatchRunner, ledger: Ledger | None, source: Bucket, planned: Planned, dest: Bucket,
             batch_id: str, *, holder: str, compute: Callable[[ItemInput], ItemRecord] | None = None) -> Outcome:
    """One key through the engine: read once, then (with a ledger) skip if done or leased, compute,
    commit once. ``compute`` replaces ``runner.process_input`` (the flow adds a lock and timing).

    Returns the ledger's :class:`~pipeline.ledger.Outcome` (``processed`` with the record, or
    ``done``/``leased``/``lost`` without). Re-raises transient storage errors only.
    """
    key, item_id = planned.key, runner.item_id(planned.key)
    if planned.problem is not None:
        return _failed(runner, ledger, source, planned, batch_id, holder, problem_record(item_id, key, planned.problem))
    try:
        item = read_item(source, key, max_bytes=runner.config.decode.max_bytes, size=planned.size,
                         has_sidecar=planned.sidecar)
    except Exception as exc:
        if classify(exc) == "transient":
            raise
        return _failed(runner, ledger, source, planned, batch_id, holder,
                       error_record(item_id, display_key(key), exc))
    work = compute or (lambda it: runner.process_input(it, dest, batch_id))
    if ledger is None:
        return Outcome("processed", key, None, work(item))
    return process_once(ledger, source=source, key=key, dest=dest, batch_id=batch_id, item_id=item_id,
                        config_hash=runner.config_hash, holder=holder, process=lambda: work(item), fp=planned.fp,
                        content_hash=item.content_hash, sidecar=item.sidecar_hash)


def _failed(runner: BatchRunner, ledger: Ledger | None, source: Bucket, planned: Planned, batch_id: str,
            holder: str, record: ItemRecord) -> Outcome:
    """A key that failed before its bytes were hashed: its row, committed under the key itself."""
    if ledger is None:
        return Outcome("processed", planned.key, None, record)
    return commit_failure(ledger, source_url=source.url, key=planned.key, fp=planned.fp, batch_id=batch_id,
                          config_hash=runner.config_hash, holder=holder, record=record)


def process_group(runner: BatchRunner, ledger: Ledger | None, source: Bucket, group: list[Planned], dest: Bucket,
                  batch_id: str) -> list[GroupResult]:
    """Keys that may share a result, first key first (the others reuse its result).

    Returns (key, record, None) per processed key and (key, None, ledger status) per skipped
    one. A transient storage error becomes that key's ``error`` row, not committed (the next
    run tries it again); so does anything else that escapes (a bug in the engine itself).
    """
    out: list[GroupResult] = []
    for planned in group:
        holder = f"cli-{batch_id}-{secrets.token_hex(4)}"
        try:
            outcome = run_item(runner, ledger, source, planned, dest, batch_id, holder=holder)
        except StagesUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - one item must never stop the batch
            out.append((planned.key, error_record(runner.item_id(planned.key), display_key(planned.key), exc), None))
            continue
        if outcome.status == "processed" and outcome.record is not None:
            out.append((planned.key, outcome.record, None))
        else:
            out.append((planned.key, None, outcome.status))
    return out
