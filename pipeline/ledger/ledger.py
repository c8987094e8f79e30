"""The ledger: done records, leases, the fingerprint index and batch markers under ``DEST/_ledger/``."""

from __future__ import annotations

import json
import logging
import posixpath
import time
from dataclasses import replace
from typing import Any

from pipeline.io.conditional_store import ConditionalStore, open_store
from pipeline.io.storage import Bucket, delete_prefix, safe_key
from pipeline.ledger.identities import short_hash
from pipeline.ledger.leases import Heartbeat, Lease
from pipeline.ledger.owners import Owner
from pipeline.ledger.records import DoneRecord, LeaseInfo, record_from_json
from pipeline.redact import redact
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

LEDGER = "_ledger"
DEFAULT_LEASE_TTL_S = 300.0


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
        self._heartbeat = Heartbeat(self.lease_ttl_s, self.heartbeat_s)

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
        return self._heartbeat.hold(lease)

    def _forget(self, lease: Lease) -> None:
        self._heartbeat.forget(lease)

    def close(self) -> None:
        """Stop the heartbeat (held leases then expire on their own)."""
        self._heartbeat.stop()

    # fingerprint index --------------------------------------------------------
    @staticmethod
    def index_id(source_url: str, key: str, fp: str) -> str:
        return f"{short_hash(source_url + chr(0) + key)}.{short_hash(fp)}"

    def fingerprint_map(self) -> dict[str, str]:
        """index id -> item identity, from one listing."""
        prefix = f"{LEDGER}/index/"
        out = {}
        for key in self.store.list(prefix):
            base = key[len(prefix):]
            ident, _, chash = base.rpartition(".")
            if ident and chash:
                out[ident] = chash
        return out

    def remember(self, source_url: str, key: str, fp: str | None, identity: str) -> None:
        """Index a listing fingerprint to the item identity it had (the ledger name's first part)."""
        if fp is None:
            return
        self.store.create(f"{LEDGER}/index/{self.index_id(source_url, key, fp)}.{identity}", b"")

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
