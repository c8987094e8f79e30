"""``DEST/_catalogue/``: every product of a destination, kept with compare-and-swap writes.

Layout::

    DEST/_catalogue/products/<xxx>.json  up to 4096 shards (xxx = first 3 hex of sha256(product id)):
                                         {"schema": 1, "shard": "xxx", "products": {id: product}}
    DEST/_catalogue/homes.json           the homes ingested: {"homes": {name: {"stamp", "created_at",
                                         "gate", "config_hash", "items", "kind"}}}

Why shards: a decision rewrites one shard, whose size grows with the catalogue / 4096, so it costs
the same at 100 products as at 10,000 (no whole-catalogue or whole-report rewrite; measured with
256 shards, a 30 kB shard at 10,000 products made the write ~10 ms slower than at 100, mostly its
fsync: ``bench/bench_review.py``). Two reviewers
deciding products in one shard at once both win: each write is a compare-and-swap (``os.link`` /
``flock`` locally, ``If-Match`` / ``If-None-Match`` on S3) and the loser re-applies its change.

The catalogue is derived: the homes (:mod:`pipeline.catalogue.homes`) hold every fact, and each
decision is written to its home's journal before it goes into its shard. :meth:`Catalogue.sync`
ingests the homes it has not seen (or whose report changed) and remembers them in homes.json,
so a lost catalogue comes back by itself; :meth:`Catalogue.rebuild` re-reads every home and
replaces every shard (for a damaged one: ``product-scene review DEST --rebuild``).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pipeline.catalogue.casfile import CasJsonFile, dump_json
from pipeline.catalogue.homes import (
    FIXES_HOME,
    HomeRecords,
    home_stamp,
    list_homes,
    read_home,
    read_many,
    write_journal,
)
from pipeline.catalogue.model import (
    SHA256,
    DecisionError,
    add_decision,
    check_variant,
    composite_for,
    empty_product,
    new_decision,
    put_version,
    set_live,
)
from pipeline.catalogue.products import shard_of
from pipeline.io.conditional_store import ConditionalStore, open_store
from pipeline.io.storage import Bucket
from pipeline.redact import redact

log = logging.getLogger(__name__)

CATALOGUE_DIR = "_catalogue"
SHARD_DIR = f"{CATALOGUE_DIR}/products"
HOMES_FILE = f"{CATALOGUE_DIR}/homes.json"
SCHEMA = 1
MAX_SHARD_BYTES = 256 << 20
WRITE_THREADS = 16  # shards written at once when a batch is ingested (their fsyncs / PUTs overlap)

ProductChange = Callable[[dict[str, Any] | None], dict[str, Any] | None]


class CatalogueDamaged(ValueError):
    """A catalogue file is not what it should be; nothing was overwritten."""


class UnknownProduct(KeyError):
    """No such product (or version) in the catalogue."""


class StaleCompositeError(DecisionError):
    """The composite the reviewer saw is not the version's composite (the home was rewritten)."""


@dataclass
class SyncResult:
    ingested: list[str] = field(default_factory=list)  # homes read into the catalogue now
    waiting: list[str] = field(default_factory=list)  # folders with no report.json yet (a batch still running)


def _validate_shard(doc: Any) -> None:
    if not isinstance(doc.get("products"), dict):
        raise CatalogueDamaged("catalogue shard has no products object; nothing was overwritten "
                               "(product-scene review DEST --rebuild rebuilds it from the batch folders)")


def _validate_homes(doc: Any) -> None:
    if not isinstance(doc.get("homes"), dict):
        raise CatalogueDamaged(f"{HOMES_FILE} has no homes object; nothing was overwritten")


class Catalogue:
    """The catalogue of ``dest`` (a :class:`~pipeline.io.storage.Bucket`: folder or fsspec URL)."""

    def __init__(self, dest: Bucket, store: ConditionalStore | None = None):
        self.dest = dest
        self.store = store or open_store(dest)
        if self.store.atomicity == "read-back":
            log.warning("the catalogue on %s uses read-back verification: two reviewers writing in the same "
                        "instant may race (best effort)", redact(dest.url))

    @property
    def url(self) -> str:
        return redact(self.dest.url)

    # ------------------------------------------------------------------ files
    def _shard_file(self, shard: str) -> CasJsonFile:
        return CasJsonFile(self.store, f"{SHARD_DIR}/{shard}.json",
                           lambda: {"schema": SCHEMA, "shard": shard, "products": {}}, _validate_shard, compact=True)

    def _homes_file(self) -> CasJsonFile:
        return CasJsonFile(self.store, HOMES_FILE, lambda: {"schema": SCHEMA, "homes": {}}, _validate_homes)

    def homes(self) -> dict[str, dict[str, Any]]:
        """name -> info of every home ingested (see the module docstring)."""
        try:
            return self._homes_file().read()[0]["homes"]
        except ValueError as exc:
            raise CatalogueDamaged(str(exc)) from None

    # ------------------------------------------------------------------ reading
    def shard_names(self) -> list[str]:
        return sorted(posixpath.basename(k)[:-5] for k in self.store.list(SHARD_DIR) if k.endswith(".json"))

    def load(self, shards: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """product id -> product, from every shard (or the ``shards`` named); one read per shard,
        concurrent on object stores. :class:`CatalogueDamaged` for a shard that is not JSON."""
        names = list(self.shard_names() if shards is None else shards)
        found = read_many(self.dest, [f"{SHARD_DIR}/{s}.json" for s in names], MAX_SHARD_BYTES)
        products: dict[str, dict[str, Any]] = {}
        for key, data in found.items():
            if data is None:
                continue
            try:
                doc = self._shard_file(posixpath.basename(key)[:-5]).parse(data)
            except ValueError as exc:
                raise CatalogueDamaged(f"{exc} (product-scene review DEST --rebuild rebuilds the catalogue "
                                       "from the batch folders)") from None
            products.update(doc["products"])
        return products

    def product(self, pid: str) -> dict[str, Any]:
        """One product (one read); :class:`UnknownProduct` when there is none."""
        try:
            doc = self._shard_file(shard_of(pid)).read()[0]
        except ValueError as exc:
            raise CatalogueDamaged(str(exc)) from None
        if pid not in doc["products"]:
            raise UnknownProduct(pid)
        return doc["products"][pid]

    def shard_stamps(self) -> dict[str, str]:
        """shard -> what changes when it is rewritten (size and ETag or mtime): one listing."""
        base = self.dest.path(SHARD_DIR)
        if hasattr(self.dest.fs, "invalidate_cache"):
            self.dest.fs.invalidate_cache(base)
        try:
            entries = self.dest.fs.ls(base, detail=True)
        except FileNotFoundError:
            return {}
        out = {}
        for e in entries:
            name = posixpath.basename(str(e["name"]))
            if name.endswith(".json") and not name.startswith("."):
                out[name[:-5]] = f"{e.get('size')}:{e.get('ETag') or e.get('mtime') or e.get('LastModified')}" \
                                 f":{e.get('ino', '')}"
        return out

    # ------------------------------------------------------------------ writing
    def update(self, changes: dict[str, ProductChange]) -> dict[str, dict[str, Any] | None]:
        """Apply ``changes`` (product id -> function of the product or None, returning the new
        product or None to drop it), one compare-and-swap per shard. Returns id -> product now."""
        by_shard: dict[str, dict[str, ProductChange]] = {}
        for pid, change in changes.items():
            by_shard.setdefault(shard_of(pid), {})[pid] = change

        def one(shard: str, group: dict[str, ProductChange]) -> dict[str, dict[str, Any] | None]:
            def apply(doc: dict[str, Any]) -> None:
                for pid, change in group.items():
                    new = change(doc["products"].get(pid))
                    if new is None:
                        doc["products"].pop(pid, None)
                    else:
                        doc["products"][pid] = new
            try:
                doc = self._shard_file(shard).update(apply)
            except ValueError as exc:
                raise CatalogueDamaged(str(exc)) from None
            return {pid: doc["products"].get(pid) for pid in group}

        out: dict[str, dict[str, Any] | None] = {}
        if len(by_shard) <= 2:
            for shard, group in sorted(by_shard.items()):
                out.update(one(shard, group))
            return out
        with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="catalogue") as pool:  # ingest: many shards
            for part in pool.map(lambda item: one(*item), sorted(by_shard.items())):
                out.update(part)
        return out

    # ------------------------------------------------------------------ sync and rebuild
    def sync(self, homes: Iterable[str] | None = None, *, check_changed: bool = True) -> SyncResult:
        """Ingest the homes not ingested yet (and, with ``check_changed``, those whose report.json
        changed since). ``homes``: only these names (else every folder under DEST: one listing)."""
        known = self.homes()
        names = list(homes) if homes is not None else list_homes(self.dest)
        result = SyncResult()
        for name in names:
            if name in known and not check_changed and name != FIXES_HOME:
                continue
            stamp = home_stamp(self.dest, name)
            if stamp is None:
                if name not in known:
                    result.waiting.append(name)
                continue
            if known.get(name, {}).get("stamp") == stamp:
                continue
            records = read_home(self.dest, self.store, name)
            if records is None:
                continue
            self.ingest(records)
            result.ingested.append(name)
        if result.ingested:
            log.info("catalogue %s: ingested %s", self.url, ", ".join(result.ingested))
        return result

    def ingest(self, records: HomeRecords) -> None:
        """Merge one home's records into the shards, then remember the home in homes.json."""
        changes: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        skus: dict[str, str | None] = {}
        for pid, sku, version in records.versions:
            skus[pid] = sku
            changes.setdefault(pid, []).append(lambda p, v=version: put_version(p, v))
        for d in records.decisions:
            changes.setdefault(d["product"], []).append(lambda p, d=d: add_decision(p, d))
        for pid, target, row in records.live:
            changes.setdefault(pid, []).append(lambda p, t=target, r=row: _merge_live(p, t, r))

        def make(pid: str, steps: list[Callable[[dict[str, Any]], None]]) -> ProductChange:
            def change(product: dict[str, Any] | None) -> dict[str, Any]:
                product = product or empty_product(pid, skus.get(pid))
                for step in steps:
                    step(product)
                return product
            return change

        self.update({pid: make(pid, steps) for pid, steps in changes.items()})
        info = dict(records.info)
        self._homes_file().update(lambda doc: doc["homes"].__setitem__(records.home, info))

    def rebuild(self) -> dict[str, int]:
        """Re-read every home and replace every shard and homes.json with what they hold (run it
        with no review server writing). Returns {"homes", "products", "decisions"}."""
        products: dict[str, dict[str, Any]] = {}
        infos: dict[str, dict[str, Any]] = {}
        for name in list_homes(self.dest):
            records = read_home(self.dest, self.store, name)
            if records is None:
                continue
            infos[name] = records.info
            for pid, sku, version in records.versions:
                put_version(products.setdefault(pid, empty_product(pid, sku)), version)
            for d in records.decisions:
                add_decision(products.setdefault(d["product"], empty_product(d["product"])), d)
            for pid, target, row in records.live:
                _merge_live(products.setdefault(pid, empty_product(pid)), target, row)
        by_shard: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in self.shard_names()}
        for pid, product in products.items():
            by_shard.setdefault(shard_of(pid), {})[pid] = product
        def write(item: tuple[str, dict[str, dict[str, Any]]]) -> None:
            shard, group = item
            key = self._shard_file(shard).key
            found = self.store.get(key)
            data = dump_json({"schema": SCHEMA, "shard": shard, "products": group}, compact=True)
            if found is None:
                self.store.create(key, data)
            elif found[0] != data:
                self.store.put(key, data)

        with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="catalogue") as pool:
            list(pool.map(write, sorted(by_shard.items())))
        found = self.store.get(HOMES_FILE)
        data = dump_json({"schema": SCHEMA, "homes": infos})
        if found is None or found[0] != data:
            self.store.put(HOMES_FILE, data)
        log.info("catalogue %s rebuilt from %d homes: %d products", self.url, len(infos), len(products))
        return {"homes": len(infos), "products": len(products),
                "decisions": sum(len(p["decisions"]) for p in products.values())}

    # ------------------------------------------------------------------ deciding
    def decide(self, pid: str, version_id: str, decision: str, reviewer: str, *, note: str = "",
               variant: int | None = None, seen_sha256: str | None = None, how: str = "review",
               product: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Record one decision on a version: its home's journal first, then its shard.
        Returns (the decision, the product as it is now).

        ``seen_sha256``: the composite the page showed; it must be the version's composite for
        ``variant`` (:class:`StaleCompositeError` otherwise) unless the decision is ``undecided``.
        ``product``: the product as the caller last read it (saves a read)."""
        d, version = self.check_decision(pid, version_id, decision, reviewer, note=note, variant=variant,
                                         seen_sha256=seen_sha256, how=how, product=product)
        write_journal(self.store, version["home"], version["item"], d)
        now = self.update({pid: lambda p: _with_decision(p, d)})[pid]
        return d, now

    def decide_many(self, decisions: list[dict[str, Any]], versions: dict[str, dict[str, Any]]
                    ) -> dict[str, dict[str, Any] | None]:
        """Record checked decisions (from :meth:`check_decision`) together: a journal file each,
        one compare-and-swap per shard. ``versions``: version id -> version."""
        for d in decisions:
            version = versions[d["version"]]
            write_journal(self.store, version["home"], version["item"], d)
        by_pid: dict[str, list[dict[str, Any]]] = {}
        for d in decisions:
            by_pid.setdefault(d["product"], []).append(d)

        def make(ds: list[dict[str, Any]]) -> ProductChange:
            def change(p: dict[str, Any] | None) -> dict[str, Any] | None:
                for d in ds:
                    p = _with_decision(p, d)
                return p
            return change

        return self.update({pid: make(ds) for pid, ds in by_pid.items()})

    def check_decision(self, pid: str, version_id: str, decision: Any, reviewer: str, *, note: Any = "",
                       variant: Any = None, seen_sha256: Any = None, how: str = "review",
                       product: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(validated decision, its version) without writing anything."""
        product = product if product is not None else self.product(pid)
        version = product.get("versions", {}).get(version_id) if isinstance(version_id, str) else None
        if version is None:
            raise UnknownProduct(f"{pid} has no version {version_id!r}")
        check_variant(variant, len(version.get("variants") or []))
        if seen_sha256 is not None and (not isinstance(seen_sha256, str) or not SHA256.fullmatch(seen_sha256)):
            raise DecisionError(f"composite_sha256 must be 64 lowercase hex digits or null, got {seen_sha256!r}")
        _, sha = composite_for(version, variant)
        if decision == "approved" and not sha:
            raise DecisionError(f"{version_id} has no composite to approve ({version.get('outcome')})")
        if (decision in ("approved", "rejected") or seen_sha256 is not None) and sha is not None \
                and seen_sha256 != sha:
            raise StaleCompositeError(f"the composite of {version_id} is not the one the page showed "
                                      "(the batch was rerun?); reload the page and look again")
        d = new_decision(product=pid, version=version_id, decision=decision, reviewer=reviewer, note=note,
                         variant=variant, sha256=sha if decision != "undecided" or seen_sha256 else None, how=how)
        return d, version


def _with_decision(product: dict[str, Any] | None, d: dict[str, Any]) -> dict[str, Any]:
    if product is None:  # the product vanished between the check and the write (a rebuild): keep the decision
        product = empty_product(d["product"])
    add_decision(product, d)
    return product


def _merge_live(product: dict[str, Any], target: str, row: dict[str, Any]) -> None:
    """Keep the later of the shard's live row and a home's published row for one target."""
    current = product.get("live", {}).get(target)
    if current is None or str(row.get("published_at") or "") >= str(current.get("published_at") or ""):
        set_live(product, target, row)
