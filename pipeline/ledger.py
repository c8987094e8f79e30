"""The processed-ledger: what is done, who is working on what, in the destination bucket.

Plain fsspec, no Prefect: the flows and the CLI share it. Built for object stores without
rename or locks; the only primitive is a conditional write (:mod:`pipeline.ledger_store`).

Layout under DEST::

    _ledger/done/<content_hash>-<config_hash>.json   one per committed item, created once, never rewritten
    _ledger/leases/<name>.json                       owner + expiry of an item (or batch) in progress
    _ledger/index/<key-id>.<fingerprint-id>.<content_hash>   empty objects: listing fingerprint -> hash
    _ledger/open/<batch_id>.json                     a batch whose report is not written yet
    _ledger/batches/<batch_id>/<name>.json           the records a batch committed (report recovery)

An *item* is a (content hash, config hash) pair: the same bytes under two keys are one item, and
a new config makes every item new.

Exactly-once, precisely:

1. Commit is the creation of ``done/<item>.json`` with create-if-absent (``If-None-Match: *`` on
   S3, ``os.link`` locally). At most one attempt ever commits an item; a done record is never
   overwritten or deleted by the pipeline.
2. A done record is created only after every output file its record names exists under
   ``DEST/<batch_id>/<item_id>/`` (checked by listing), so a record always points at whole outputs.
3. Outputs of attempts that do not commit are deleted: by the attempt itself when its commit
   loses, and by the committing attempt for every earlier holder of the item's lease (leases
   carry the output prefixes of the holders they replaced). After recovery, each item has exactly
   one output folder: the one its done record names.
4. Computation is at-least-once: a crash, or a lease that expired under a slow worker, can make
   an item be computed twice; only one result is ever committed and kept.
5. Nothing is lost: an attempt that fails transiently or dies leaves no done record, so the item
   is picked up by the next run once its lease is free (at once when the holder is a dead process
   on this machine, else after ``lease_ttl_s``).

Leases only avoid duplicate work; rule 1 alone makes commits exactly-once. On stores without
conditional writes (:class:`~pipeline.ledger_store.ReadBackStore`) rule 1 is best effort.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Self

from pipeline.errors import UnsafeKeyError
from pipeline.ledger_store import ConditionalStore, open_store
from pipeline.redact import redact
from pipeline.storage import Bucket, safe_key
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

LEDGER = "_ledger"
DEFAULT_LEASE_TTL_S = 300.0
HASH_CHUNK = 1 << 20


# ----------------------------------------------------------------------------- identities


def content_hash_of(data: bytes) -> str:
    """sha256 hex of the bytes (the same hash :class:`~pipeline.batch.BatchRunner` records)."""
    return hashlib.sha256(data).hexdigest()


def hash_object(bucket: Bucket, key: str) -> str:
    """sha256 hex of an object, streamed (no size limit, constant memory)."""
    digest = hashlib.sha256()
    with bucket.fs.open(bucket.path(key), "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def item_name(content_hash: str, config_hash: str) -> str:
    return f"{content_hash}-{config_hash}"


def rejected_name(source_url: str, key: str, config_hash: str) -> str:
    """Ledger name for a key that was rejected before reading (unsafe key)."""
    h = hashlib.sha256(f"{source_url}\0{key}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"key-{h}-{config_hash}"


def fingerprint(info: dict[str, Any]) -> str | None:
    """A cheap change detector from a listing entry: size + ETag (S3) or mtime (files)."""
    size = info.get("size")
    tag = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")
    if size is None or tag is None:
        return None
    return f"{size}:{tag}"


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]


@lru_cache(maxsize=1)
def local_node_id() -> str:
    """This machine + boot + PID namespace: processes with equal node ids can check each other's PIDs.

    Without ``/proc`` the id is unique per process, so liveness falls back to lease expiry.
    """
    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            parts.append(fh.read().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append(uuid.uuid4().hex)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (guards against PID reuse); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
        return int(stat[stat.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Owner:
    """Who holds a lease. ``holder`` is stable across retries of one attempt (e.g. a task run id)."""

    node: str
    pid: int
    pid_start: int | None
    holder: str
    host: str = ""
    label: str = ""

    @classmethod
    def current(cls, holder: str, label: str = "") -> Owner:
        pid = os.getpid()
        return cls(local_node_id(), pid, process_start_ticks(pid), holder, socket.gethostname(), label)

    def alive(self) -> bool | None:
        """False when this owner is a dead process on this node; None when it cannot be told."""
        if self.node != local_node_id():
            return None
        if not os.path.exists(f"/proc/{self.pid}"):
            return False if os.path.isdir("/proc/self") else None
        start = process_start_ticks(self.pid)
        return start is None or self.pid_start is None or start == self.pid_start

    def as_json(self) -> dict[str, Any]:
        return {"node": self.node, "pid": self.pid, "pid_start": self.pid_start, "holder": self.holder,
                "host": self.host, "label": self.label}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Owner:
        return cls(str(data.get("node", "")), int(data.get("pid", 0)), data.get("pid_start"),
                   str(data.get("holder", "")), str(data.get("host", "")), str(data.get("label", "")))


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as stored: owner, expiry (epoch seconds), where its holder writes."""

    name: str
    owner: Owner
    acquired_at: float
    expires_at: float
    output_prefix: str | None = None
    batch_id: str | None = None
    source_key: str | None = None
    orphans: tuple[str, ...] = ()

    def stale(self, now: float | None = None) -> bool:
        """Expired, or held by a process on this machine that no longer exists."""
        return (now or time.time()) > self.expires_at or self.owner.alive() is False

    def to_bytes(self) -> bytes:
        body = {
            "name": self.name, "owner": self.owner.as_json(), "acquired_at": self.acquired_at,
            "expires_at": self.expires_at, "output_prefix": self.output_prefix, "batch_id": self.batch_id,
            "source_key": self.source_key, "orphans": list(self.orphans), "nonce": uuid.uuid4().hex,
        }
        return redact(json.dumps(body, sort_keys=True)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LeaseInfo | None:
        try:
            d = json.loads(data)
            return cls(str(d["name"]), Owner.from_json(d["owner"]), float(d["acquired_at"]),
                       float(d["expires_at"]), d.get("output_prefix"), d.get("batch_id"),
                       d.get("source_key"), tuple(d.get("orphans") or ()))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class DoneRecord:
    """A committed item: where its outputs are and what the pipeline said about it."""

    name: str
    content_hash: str
    config_hash: str
    source_key: str
    batch_id: str
    output_prefix: str | None
    status: str
    record: dict[str, Any]
    committed_at: float
    owner: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return redact(json.dumps(self.__dict__, sort_keys=True, default=str)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DoneRecord:
        d = json.loads(data)
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


def record_from_json(data: dict[str, Any]) -> ItemRecord:
    """Rebuild an :class:`ItemRecord` from ``ItemRecord.as_json()`` (thumbnails are not kept)."""
    return ItemRecord(
        id=data["id"], source=data["source"], status=data["status"], error=data.get("error"),
        verdict=data.get("verdict"), reasons=tuple(data.get("reasons") or ()), metrics=data.get("metrics"),
        outputs=dict(data.get("outputs") or {}), timings_ms=dict(data.get("timings_ms") or {}),
        content_hash=data.get("content_hash"), backends=dict(data.get("backends") or {}),
        fallbacks=dict(data.get("fallbacks") or {}),
    )


# ----------------------------------------------------------------------------- leases


class Lease:
    """A held lease. Renewed by the ledger's heartbeat; ``lost`` turns True if someone took it over."""

    def __init__(self, ledger: Ledger, info: LeaseInfo, version: str, previous: LeaseInfo | None):
        self.ledger = ledger
        self.info = info
        self.version = version
        self.previous = previous
        self.lost = False
        self.released = False
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def orphans(self) -> tuple[str, ...]:
        """Output prefixes of earlier holders that never committed (deleted after our commit)."""
        return self.info.orphans

    def renew(self) -> bool:
        """Push the expiry forward (compare-and-swap); False (and ``lost``) if it was taken over."""
        with self._lock:
            if self.lost or self.released:
                return not self.lost
            info = replace(self.info, expires_at=time.time() + self.ledger.lease_ttl_s)
            version = self.ledger.store.replace(self.ledger.lease_key(self.name), info.to_bytes(), self.version)
            if version is None:
                self.lost = True
                log.warning("lease %s was taken over by another worker", self.name)
                return False
            self.info, self.version = info, version
            return True

    def still_held(self) -> bool:
        """Read the lease back: is it still ours?"""
        current = self.ledger.store.get(self.ledger.lease_key(self.name))
        if current is None:
            return False
        info = LeaseInfo.from_bytes(current[0])
        held = info is not None and info.owner.holder == self.info.owner.holder
        if not held:
            self.lost = True
        return held

    def release(self) -> None:
        with self._lock:
            if self.released:
                return
            self.released = True
        self.ledger._forget(self)
        if not self.lost:
            self.ledger.store.delete(self.ledger.lease_key(self.name), self.version)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.release()
        except Exception as err:  # noqa: BLE001 - an expired lease is harmless; never mask the real error
            log.warning("could not release lease %s: %s", self.name, redact(str(err)))


# ----------------------------------------------------------------------------- the ledger


class Ledger:
    """Done records, leases, a fingerprint index and batch markers under ``DEST/_ledger/``.

    dest: the destination bucket. lease_ttl_s: how long a lease lives without renewal (> 0).
    heartbeat_s: renewal period (default ``lease_ttl_s / 5``). store: injected for tests.
    """

    def __init__(self, dest: Bucket, *, lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
                 heartbeat_s: float | None = None, store: ConditionalStore | None = None):
        if not lease_ttl_s > 0:
            raise ValueError(f"lease_ttl_s must be > 0 seconds, got {lease_ttl_s}")
        if heartbeat_s is not None and not 0 < heartbeat_s < lease_ttl_s:
            raise ValueError(f"heartbeat_s must be in (0, lease_ttl_s={lease_ttl_s}), got {heartbeat_s}")
        self.dest = dest
        self.lease_ttl_s = float(lease_ttl_s)
        self.heartbeat_s = float(heartbeat_s or lease_ttl_s / 5)
        self.store = store or open_store(dest)
        if self.store.atomicity == "read-back":
            log.warning("ledger on %s uses read-back verification: exactly-once is best effort "
                        "when two workers race on the same item", redact(dest.url))
        self._held: dict[int, Lease] = {}
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def atomicity(self) -> str:
        return self.store.atomicity

    # keys -------------------------------------------------------------------
    @staticmethod
    def done_key(name: str) -> str:
        return f"{LEDGER}/done/{name}.json"

    @staticmethod
    def lease_key(name: str) -> str:
        return f"{LEDGER}/leases/{name}.json"

    # done records -----------------------------------------------------------
    def get_done(self, name: str) -> DoneRecord | None:
        found = self.store.get(self.done_key(name))
        return DoneRecord.from_bytes(found[0]) if found else None

    def is_done(self, name: str) -> bool:
        return self.store.get(self.done_key(name)) is not None

    def done_names(self) -> set[str]:
        """Every committed item name (one listing)."""
        prefix = f"{LEDGER}/done/"
        return {k[len(prefix):-5] for k in self.store.list(prefix) if k.endswith(".json")}

    def commit(self, lease: Lease, done: DoneRecord) -> bool:
        """Create the done record if absent. False when another attempt committed first.

        The lease is not re-read: only the create-if-absent decides (a lost lease means
        duplicate work, never a duplicate commit).
        """
        if lease.lost:
            log.info("lease on %s was lost; letting the create decide", done.name)
        created = self.store.create(self.done_key(done.name), done.to_bytes()) is not None
        if not created:
            log.info("%s was committed by another attempt", done.name)
        return created

    # leases -----------------------------------------------------------------
    def acquire(self, name: str, holder: str, *, output_prefix: str | None = None,
                batch_id: str | None = None, source_key: str | None = None, label: str = "") -> Lease | None:
        """Take the lease on ``name`` or return None when a live owner holds it.

        A lease already held by ``holder`` (a retry of the same attempt) is taken again; a stale
        one (expired, or its process is dead on this machine) is taken over with a
        compare-and-swap, inheriting the earlier holders' output prefixes as ``orphans``.
        """
        key = self.lease_key(name)
        owner = Owner.current(holder, label)
        for _ in range(5):
            now = time.time()
            info = LeaseInfo(name, owner, now, now + self.lease_ttl_s, output_prefix, batch_id, source_key)
            version = self.store.create(key, info.to_bytes())
            if version is not None:
                return self._hold(Lease(self, info, version, None))
            current = self.store.get(key)
            if current is None:
                continue  # released in between: try to create again
            data, cur_version = current
            previous = LeaseInfo.from_bytes(data)
            own = previous is not None and previous.owner.holder == holder
            if previous is not None and not own and not previous.stale(now):
                return None
            orphans: tuple[str, ...] = ()
            if previous is not None:
                orphans = previous.orphans
                if previous.output_prefix and previous.output_prefix != output_prefix:
                    orphans += (previous.output_prefix,)
            info = replace(info, orphans=tuple(dict.fromkeys(orphans)))
            version = self.store.replace(key, info.to_bytes(), cur_version)
            if version is not None:
                if previous is not None and not own:
                    log.info("took over stale lease %s from %s (pid %s)", name, previous.owner.host,
                             previous.owner.pid)
                return self._hold(Lease(self, info, version, None if own else previous))
        return None

    def lease_info(self, name: str) -> LeaseInfo | None:
        found = self.store.get(self.lease_key(name))
        return LeaseInfo.from_bytes(found[0]) if found else None

    def leases(self) -> list[LeaseInfo]:
        prefix = f"{LEDGER}/leases/"
        out = []
        for key in self.store.list(prefix):
            found = self.store.get(key)
            info = LeaseInfo.from_bytes(found[0]) if found else None
            if info is not None:
                out.append(info)
        return out

    def sweep(self) -> list[str]:
        """Remove stale leases of items that are committed, with their holders' leftover outputs.

        Safe: once a done record exists no other attempt can commit, so outputs other than the
        ones it names are garbage. Stale leases of uncommitted items are kept (the next taker
        inherits their orphans). Returns the names swept.
        """
        swept = []
        for key in self.store.list(f"{LEDGER}/leases/"):
            found = self.store.get(key)
            info = LeaseInfo.from_bytes(found[0]) if found else None
            if found is None or info is None or not info.stale() or info.name.startswith("batch-"):
                continue
            done = self.get_done(info.name)
            if done is None:
                continue
            for prefix in {*info.orphans, info.output_prefix} - {None, done.output_prefix}:
                delete_prefix(self.dest, prefix)
            if self.store.delete(key, found[1]):
                swept.append(info.name)
        return swept

    def _hold(self, lease: Lease) -> Lease:
        with self._held_lock:
            self._held[id(lease)] = lease
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._heartbeat, name="ledger-heartbeat", daemon=True)
                self._thread.start()
        return lease

    def _forget(self, lease: Lease) -> None:
        with self._held_lock:
            self._held.pop(id(lease), None)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._held_lock:
                held = list(self._held.values())
            for lease in held:
                if lease.info.expires_at - time.time() > self.lease_ttl_s - self.heartbeat_s * 0.9:
                    continue
                try:
                    lease.renew()
                except Exception as err:  # noqa: BLE001 - transient: next beat retries, the TTL has slack
                    log.warning("lease renewal for %s failed: %s", lease.name, redact(str(err)))

    def close(self) -> None:
        """Stop the heartbeat (held leases then expire on their own)."""
        self._stop.set()

    # fingerprint index --------------------------------------------------------
    @staticmethod
    def index_id(source_url: str, key: str, fp: str) -> str:
        return f"{_short(source_url + chr(0) + key)}.{_short(fp)}"

    def fingerprint_map(self) -> dict[str, str]:
        """index id -> content hash, from one listing."""
        prefix = f"{LEDGER}/index/"
        out = {}
        for key in self.store.list(prefix):
            base = key[len(prefix):]
            ident, _, chash = base.rpartition(".")
            if ident and chash:
                out[ident] = chash
        return out

    def remember(self, source_url: str, key: str, fp: str | None, content_hash: str) -> None:
        if fp is None:
            return
        self.store.create(f"{LEDGER}/index/{self.index_id(source_url, key, fp)}.{content_hash}", b"")

    # batches ----------------------------------------------------------------
    def open_batch(self, batch_id: str, holder: str, meta: dict[str, Any]) -> Lease:
        """Mark ``batch_id`` open (its report is due) and hold its lease while it runs."""
        safe_key(batch_id)
        lease = self.acquire(f"batch-{batch_id}", holder, batch_id=batch_id)
        if lease is None:
            raise RuntimeError(f"batch {batch_id} is already running elsewhere")
        body = {"batch_id": batch_id, "opened_at": time.time(), **meta}
        self.dest.write_bytes(f"{LEDGER}/open/{batch_id}.json", redact(json.dumps(body, default=str)).encode())
        return lease

    def add_to_batch(self, batch_id: str, name: str, record: ItemRecord) -> None:
        data = redact(json.dumps(record.as_json(), default=str)).encode()
        self.store.put(f"{LEDGER}/batches/{batch_id}/{name}.json", data)

    def drop_from_batch(self, batch_id: str, name: str) -> None:
        self.dest.delete(f"{LEDGER}/batches/{batch_id}/{name}.json")

    def close_batch(self, batch_id: str, lease: Lease | None) -> None:
        """The batch's report is written: drop its open marker and pointers, release its lease."""
        self.dest.delete(f"{LEDGER}/open/{batch_id}.json")
        delete_prefix(self.dest, f"{LEDGER}/batches/{batch_id}")
        if lease is not None:
            lease.release()

    def open_batches(self) -> dict[str, dict[str, Any]]:
        """Batches whose report is not written yet: id -> the meta given to :meth:`open_batch`."""
        prefix = f"{LEDGER}/open/"
        out = {}
        for key in self.store.list(prefix):
            found = self.store.get(key)
            if found and key.endswith(".json"):
                try:
                    out[key[len(prefix):-5]] = json.loads(found[0])
                except ValueError:
                    out[key[len(prefix):-5]] = {}
        return out

    def batch_records(self, batch_id: str) -> list[ItemRecord]:
        """The records ``batch_id`` committed (pointers whose done record names this batch)."""
        prefix = f"{LEDGER}/batches/{batch_id}/"
        records = []
        for key in self.store.list(prefix):
            name = key[len(prefix):-5]
            done = self.get_done(name)
            found = self.store.get(key)
            if done is not None and done.batch_id == batch_id and found is not None:
                records.append(record_from_json(json.loads(found[0])))
        return sorted(records, key=lambda r: r.id)

    # consistency ------------------------------------------------------------
    def check(self, required: tuple[str, ...] = ("meta.json",)) -> list[str]:
        """Problems found (empty when consistent): done records without their outputs, output
        folders no done record names (outside live leases), and stale leases."""
        problems = []
        named: set[str] = set()
        for name in sorted(self.done_names()):
            done = self.get_done(name)
            if done is None or not done.output_prefix:
                continue
            named.add(done.output_prefix)
            present = {posixpath.basename(k) for k in self.store.list(done.output_prefix + "/")}
            wanted = {posixpath.basename(str(v)) for v in done.record.get("outputs", {}).values()}
            if done.status == "ok":
                wanted |= set(required)
            if missing := wanted - present:
                problems.append(f"{name}: outputs missing under {done.output_prefix}: {sorted(missing)}")
        live = set()
        for info in self.leases():
            if info.stale():
                problems.append(f"stale lease {info.name} (owner pid {info.owner.pid})")
            elif info.output_prefix:
                live.add(info.output_prefix)
        for prefix in sorted(self._output_prefixes() - named - live):
            problems.append(f"output folder {prefix} belongs to no committed item")
        return problems

    def _output_prefixes(self) -> set[str]:
        """``<batch>/<item>`` folders holding files (reports at ``<batch>/`` are not items)."""
        out = set()
        for key in self.dest.list_keys():
            parts = key.split("/")
            if parts[0] != LEDGER and len(parts) >= 3:
                out.add(f"{parts[0]}/{parts[1]}")
        return out


# ----------------------------------------------------------------------------- one item, once


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


def _transient_error_record(record: ItemRecord) -> bool:
    """An error record that reflects a read failure of the storage, not of the image."""
    return record.status == "error" and (record.error or "").startswith("could not read")


def delete_prefix(bucket: Bucket, prefix: str) -> None:
    """Remove every object under ``prefix`` (a validated key)."""
    path = bucket.path(prefix)
    if bucket.fs.exists(path):
        bucket.fs.rm(path, recursive=True)
    if hasattr(bucket.fs, "invalidate_cache"):
        bucket.fs.invalidate_cache(path)


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
) -> Outcome:
    """Run ``process`` for ``key`` unless its item is done or leased, and commit it exactly once.

    ``process`` must write the item's outputs under ``dest/<batch_id>/<item_id>/`` and return
    its record (``BatchRunner.process_key``). ``holder`` identifies this attempt across retries.
    Raises transient storage errors (callers retry); never raises for a bad image.
    """
    try:
        safe = safe_key(key)
    except UnsafeKeyError as exc:
        return _reject(ledger, source, key, batch_id, item_id, config_hash, holder, exc)
    content_hash = content_hash or hash_object(source, safe)
    name = item_name(content_hash, config_hash)
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
        record = process()
        if _transient_error_record(record):
            raise TransientItemError(record.error)
        if record.content_hash and record.content_hash != content_hash:
            delete_prefix(dest, prefix)
            return Outcome("changed", key, name, detail="the object changed while it was processed")
        if missing := outputs_present(ledger, prefix, record):
            raise TransientItemError(f"outputs missing after write: {missing}")
        ledger.add_to_batch(batch_id, name, record)
        done = DoneRecord(name, content_hash, config_hash, key, batch_id, prefix if record.outputs else None,
                          record.status, record.as_json(), time.time(), lease.info.owner.as_json())
        if not ledger.commit(lease, done):
            winner = ledger.get_done(name)
            if winner is None or winner.output_prefix != prefix:
                delete_prefix(dest, prefix)
            ledger.drop_from_batch(batch_id, name)
            return Outcome("lost", key, name, detail="another attempt committed this item first")
        for orphan in lease.orphans:
            if orphan != prefix:
                delete_prefix(dest, orphan)
    ledger.remember(source.url, key, fp, content_hash)
    return Outcome("processed", key, name, record)


def _already_done(ledger: Ledger, done: DoneRecord, source: Bucket, key: str, fp: str | None,
                  batch_id: str, holder: str) -> Outcome:
    """A committed item. If this very batch committed it (a retry after the commit succeeded but
    its reply was lost), report it as processed here and drop a lease this attempt still holds."""
    ledger.remember(source.url, key, fp, done.content_hash)
    info = ledger.lease_info(done.name)
    if info is not None and info.owner.holder == holder:
        found = ledger.store.get(ledger.lease_key(done.name))
        if found is not None:
            ledger.store.delete(ledger.lease_key(done.name), found[1])
    if done.batch_id == batch_id and done.source_key == key:
        return Outcome("processed", key, done.name, record_from_json(done.record), "committed by an earlier try")
    return Outcome("done", key, done.name, detail=f"done in batch {done.batch_id}")


def _reject(ledger: Ledger, source: Bucket, key: str, batch_id: str, item_id: str, config_hash: str,
            holder: str, exc: UnsafeKeyError) -> Outcome:
    """An unsafe key: reported once (committed under a key-derived name), never read or written."""
    name = rejected_name(source.url, key, config_hash)
    record = ItemRecord(id=item_id, source=redact(repr(key)[1:-1]), status="error",
                        error=f"rejected key: {exc}")
    if ledger.is_done(name):
        return Outcome("done", key, name, detail="rejected earlier")
    lease = ledger.acquire(name, holder, batch_id=batch_id)
    if lease is None:
        return Outcome("leased", key, name)
    with lease:
        ledger.add_to_batch(batch_id, name, record)
        done = DoneRecord(name, "", config_hash, record.source, batch_id, None, "error", record.as_json(),
                          time.time(), lease.info.owner.as_json())
        if not ledger.commit(lease, done):
            ledger.drop_from_batch(batch_id, name)
            return Outcome("done", key, name, detail="rejected by another attempt")
    return Outcome("processed", key, name, record)


# ----------------------------------------------------------------------------- inputs


def move_input(source: Bucket, key: str, *, from_prefix: str, to_prefix: str,
               reason: str | None = None) -> str:
    """Move ``key`` from under ``from_prefix`` to ``to_prefix`` (keeping its relative path);
    with ``reason``, also write ``<new key>.error.txt``. Returns the new key. Never overwrites."""
    key = safe_key(key)
    rel = key[len(from_prefix):].lstrip("/") if from_prefix and key.startswith(from_prefix) else key
    target = safe_key(f"{to_prefix.rstrip('/')}/{rel}")
    if source.exists(target):
        stem, dot, ext = target.rpartition(".")
        suffix = uuid.uuid4().hex[:8]
        target = f"{stem}.{suffix}.{ext}" if dot else f"{target}.{suffix}"
    if source.is_local:
        os.makedirs(posixpath.dirname(source.path(target)), exist_ok=True)
    source.move(key, target)
    if reason:
        source.write_text(f"{target}.error.txt", redact(reason) + "\n")
    return target
