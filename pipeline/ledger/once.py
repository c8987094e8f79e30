"""One item, once: process a source key unless it is done or leased, then commit it exactly once."""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.errors import UnsafeKeyError
from pipeline.io.storage import Bucket, delete_prefix, safe_key
from pipeline.ledger.identities import hash_object, item_identity, item_name, key_identity, sidecar_hash
from pipeline.ledger.ledger import Ledger
from pipeline.ledger.records import DECISIONS_DIR, DoneRecord, record_from_json
from pipeline.redact import redact
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Outcome:
    """What happened to one source key.

    status: ``processed`` (committed now), ``done`` (committed earlier: skipped), ``leased``
    (another live worker has it: skipped), ``lost`` (another attempt committed first; our outputs
    were removed), ``changed`` (the object changed while it was processed; retried next run).
    """

    status: str
    key: str
    name: str | None = None
    record: ItemRecord | None = None
    detail: str = ""


class TransientItemError(OSError):
    """The item could not be read or written for a reason worth retrying (storage hiccup)."""



def outputs_present(ledger: Ledger, prefix: str, record: ItemRecord) -> list[str]:
    """Names of the record's output files missing under ``prefix`` (empty when all are there)."""
    present = {posixpath.basename(k) for k in ledger.store.list(prefix + "/")}
    wanted = {posixpath.basename(str(v)) for v in record.outputs.values()}
    return sorted(wanted - present)


def process_once(
    ledger: Ledger,
    *,
    source: Bucket,
    key: str,
    dest: Bucket,
    batch_id: str,
    item_id: str,
    config_hash: str,
    holder: str,
    process: Callable[[], ItemRecord],
    fp: str | None = None,
    content_hash: str | None = None,
    sidecar: str | None = None,
) -> Outcome:
    """Run ``process`` for ``key`` unless its item is done or leased, and commit it exactly once.

    ``process`` must write the item's outputs under ``dest/<batch_id>/<item_id>/`` and return
    its record (the batch engine gives it the bytes it hashed, so what is committed is what was
    computed). ``holder`` identifies this attempt across retries. ``content_hash`` and ``sidecar``
    (hashes of the photo and of its sidecar, see :mod:`~pipeline.ledger.identities`) are
    computed here when ``content_hash`` is not given. Raises transient storage errors (callers
    retry); never raises for a bad image. ``fp``: the key's listing fingerprint, indexed to the
    item once it is committed (so the next plan skips it without reading).
    """
    try:
        safe = safe_key(key)
        if content_hash is None:
            content_hash, sidecar = hash_object(source, safe), sidecar_hash(source, safe)
    except UnsafeKeyError as exc:  # a bad key, or a symlink out of the source
        record = ItemRecord(id=item_id, source=redact(repr(key)[1:-1]), status="error",
                            error=f"rejected key: {exc}")
        return commit_failure(ledger, source_url=source.url, key=key, fp=fp, batch_id=batch_id,
                              config_hash=config_hash, holder=holder, record=record)
    identity = item_identity(content_hash, sidecar, safe)
    name = item_name(identity, config_hash)
    prefix = f"{safe_key(batch_id)}/{item_id}"
    done = ledger.get_done(name)
    if done is not None:
        return _already_done(ledger, done, source, key, fp, batch_id, holder)
    lease = ledger.acquire(name, holder, output_prefix=prefix, batch_id=batch_id, source_key=key)
    if lease is None:
        info = ledger.lease_info(name)
        return Outcome("leased", key, name, detail=f"held by {info.owner.host if info else '?'}")
    with lease:
        done = ledger.get_done(name)  # committed between our first look and the lease
        if done is not None:
            return _already_done(ledger, done, source, key, fp, batch_id, holder)
        try:
            record = process()
        except BaseException:  # a storage error, Ctrl-C: what this attempt wrote is not an item's output
            _best_effort(delete_prefix, dest, prefix)
            raise
        if record.content_hash and record.content_hash != content_hash:
            delete_prefix(dest, prefix)
            return Outcome("changed", key, name, detail="the object changed while it was processed")
        if missing := outputs_present(ledger, prefix, record):
            raise TransientItemError(f"outputs missing after write: {missing}")
        ledger.add_to_batch(batch_id, name, record)
        done = DoneRecord(name, content_hash, config_hash, key, batch_id, prefix if record.outputs else None,
                          record.status, record.as_json(), time.time(), lease.info.owner.as_json(),
                          decisions=f"{safe_key(batch_id)}/{DECISIONS_DIR}/{item_id}/")
        if not ledger.commit(lease, done):
            winner = ledger.get_done(name)
            if winner is None or winner.output_prefix != prefix:
                delete_prefix(dest, prefix)
            ledger.drop_from_batch(batch_id, name)
            return Outcome("lost", key, name, detail="another attempt committed this item first")
        for orphan in lease.orphans:
            if orphan != prefix:
                _best_effort(delete_prefix, dest, orphan)  # a later sweep removes what is left
    _best_effort(ledger.remember, source.url, key, fp, identity)  # committed: only a cache misses
    return Outcome("processed", key, name, record)


def _best_effort(fn: Callable[..., object], *args: object) -> None:
    """Housekeeping after a commit: a failure here must not turn a committed item into an error."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - logged; the commit stands
        log.warning("after commit: %s failed: %s", getattr(fn, "__name__", fn), redact(str(exc)))


def _already_done(ledger: Ledger, done: DoneRecord, source: Bucket, key: str, fp: str | None,
                  batch_id: str, holder: str) -> Outcome:
    """A committed item. If this very batch committed it (a retry after the commit succeeded but
    its reply was lost), report it as processed here and drop a lease this attempt still holds."""
    _best_effort(ledger.remember, source.url, key, fp, done.name.rpartition("-")[0])
    info = ledger.lease_info(done.name)
    if info is not None and info.owner.holder == holder:
        found = ledger.store.get(ledger.lease_key(done.name))
        if found is not None:
            ledger.store.delete(ledger.lease_key(done.name), found[1])
    if done.batch_id == batch_id and done.source_key == key:
        return Outcome("processed", key, done.name, record_from_json(done.record), "committed by an earlier try")
    return Outcome("done", key, done.name, detail=f"done in batch {done.batch_id}")


def commit_failure(ledger: Ledger, *, source_url: str, key: str, fp: str | None, batch_id: str,
                   config_hash: str, holder: str, record: ItemRecord) -> Outcome:
    """Record once an item that failed before its bytes could be hashed (unsafe key, unreadable,
    not a regular file, too large): committed under :func:`key_identity` (key + listing
    fingerprint), never read or written, and indexed so the next plan skips it until it changes."""
    identity = key_identity(source_url, key, fp)
    name = item_name(identity, config_hash)
    done = ledger.get_done(name)
    if done is not None:
        _best_effort(ledger.remember, source_url, key, fp, identity)
        if done.batch_id == batch_id:  # this batch committed it (a retry whose first reply was lost)
            return Outcome("processed", key, name, record_from_json(done.record), "committed by an earlier try")
        return Outcome("done", key, name, detail=f"recorded in batch {done.batch_id}")
    lease = ledger.acquire(name, holder, batch_id=batch_id, source_key=key)
    if lease is None:
        return Outcome("leased", key, name)
    with lease:
        ledger.add_to_batch(batch_id, name, record)
        done = DoneRecord(name, "", config_hash, record.source, batch_id, None, "error", record.as_json(),
                          time.time(), lease.info.owner.as_json())
        if not ledger.commit(lease, done):
            ledger.drop_from_batch(batch_id, name)
            return Outcome("done", key, name, detail="recorded by another attempt")
    _best_effort(ledger.remember, source_url, key, fp, identity)
    return Outcome("processed", key, name, record)
