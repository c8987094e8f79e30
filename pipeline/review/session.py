"""What the review page shows and does, without web code: one queue over a destination's catalogue.

A :class:`ReviewSession` holds a destination (``DEST``), a reviewer name and, for
``review DEST/<batch_id>``, a batch that scopes the queue. It syncs the catalogue when it starts
(new or rewritten batch folders are ingested), keeps every product in memory, and keeps up with
other reviewers by re-reading only the shards whose listing changed (:meth:`refresh`, called by
the page's poll). A decision writes one journal file and one shard
(:meth:`pipeline.catalogue.store.Catalogue.decide`): its cost does not grow with the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from pipeline.catalogue.homes import FIXES_HOME, write_journal
from pipeline.catalogue.model import (
    DecisionError,
    add_decision,
    carried_note,
    effective,
    ordered_versions,
    summarize,
)
from pipeline.catalogue.products import shard_of
from pipeline.catalogue.queue import PAGE_SIZE, QueueFilter, counts, queue_row, select, sort_key
from pipeline.catalogue.store import (  # noqa: F401 - StaleCompositeError is part of this API
    Catalogue,
    CatalogueDamaged,
    StaleCompositeError,
    UnknownProduct,
)
from pipeline.io.storage import Bucket
from pipeline.review.folder import NotABatchError, item_file
from pipeline.review.pictures import VersionFiles
from pipeline.review.views import HEAT_LOW
from pipeline.score.reasons import explain_all, gate_rows

log = logging.getLogger(__name__)

REFRESH_MIN_S = 2.0  # the shard listing (5 LIST requests on S3 at 4096 shards) at most every 2 s, however
# many tabs poll (each polls every 4 s)
SYNC_EVERY_S = 15.0  # new batch folders are looked for at most this often
APPROVE_ALL_NOTE = "approved with 'approve all passed'"


class ReviewSession:
    """One destination under review. Thread-safe: the server calls it from a thread pool."""

    def __init__(self, dest: Bucket, reviewer: str, *, batch: str | None = None,
                 catalogue: Catalogue | None = None):
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise ValueError(f"reviewer must be a non-empty name, got {reviewer!r}")
        self.dest = dest
        self.reviewer = reviewer.strip()
        self.catalogue = catalogue or Catalogue(dest)
        self.files = VersionFiles(dest)
        self._lock = threading.RLock()
        self.catalogue.sync()
        self.homes = self.catalogue.homes()
        if batch is not None and batch not in self.homes:
            raise NotABatchError(f"{batch} is not a batch of {self.catalogue.url} (no report.json yet?)")
        self.batch = batch
        self.products: dict[str, dict[str, Any]] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self._order: list[str] | None = None  # product ids in queue order (sorted again only when it changes)
        self.revision = 0
        self.changed_at: dict[str, int] = {}
        self.stamps = self.catalogue.shard_stamps()
        for pid, product in self.catalogue.load().items():
            self._set(pid, product)
        self._refreshed = self._synced = time.monotonic()
        log.info("reviewing %s: %d products in %d batches, as %s", self.catalogue.url, len(self.rows),
                 len(self.homes), self.reviewer)

    # ------------------------------------------------------------------ state
    def _set(self, pid: str, product: dict[str, Any] | None) -> None:
        with self._lock:
            summary = summarize(product) if product is not None else None
            if product is None:
                self.products.pop(pid, None)
            else:
                self.products[pid] = product
            old = self.rows.get(pid)
            row = queue_row(summary, (v.get("home") for v in product["versions"].values())) if summary else None
            if row is None:
                self.rows.pop(pid, None)
            else:
                self.rows[pid] = row
            if row != old:
                self.revision += 1
                self.changed_at[pid] = self.revision
                if row is None or old is None or sort_key(row) != sort_key(old):
                    self._order = None

    def refresh(self) -> None:
        """Pick up other reviewers' decisions and new batches (cheap: one listing of the shards,
        one of DEST every ``SYNC_EVERY_S``; only changed shards are read)."""
        now = time.monotonic()
        if now - self._refreshed < REFRESH_MIN_S:
            return
        self._refreshed = now
        try:
            self._refresh(now)
        except (CatalogueDamaged, OSError) as exc:  # the page keeps what it has; the log says why
            log.warning("could not pick up changes from the catalogue: %s", exc)

    def _refresh(self, now: float) -> None:
        if now - self._synced >= SYNC_EVERY_S:
            self._synced = now
            if self.catalogue.sync(check_changed=False).ingested:
                self.homes = self.catalogue.homes()
        stamps = self.catalogue.shard_stamps()
        changed = {s for s, v in stamps.items() if self.stamps.get(s) != v} | (set(self.stamps) - set(stamps))
        if not changed:
            return
        fresh = self.catalogue.load(changed & set(stamps))
        with self._lock:
            for pid in [p for p in self.products if shard_of(p) in changed and p not in fresh]:
                self._set(pid, None)
            for pid, product in fresh.items():
                if self.products.get(pid) != product:
                    self._set(pid, product)
            self.stamps = stamps

    def _filter(self, params: dict[str, Any]) -> QueueFilter:
        batch = params.get("batch") or self.batch
        if self.batch is not None and batch != self.batch:
            raise ValueError(f"this review is of batch {self.batch} only")
        if batch is not None and batch not in self.homes:
            raise ValueError(f"no batch {batch!r} in this destination")
        flag = params.get("rejected_before")
        return QueueFilter(batch=batch, outcome=params.get("outcome") or "all",
                           decision=params.get("decision") or "all",
                           rejected_before=flag in (True, "1", "true", "yes"), query=params.get("q") or "")

    # ------------------------------------------------------------------ reading
    def queue(self, params: dict[str, Any], offset: int = 0, limit: int = PAGE_SIZE) -> dict[str, Any]:
        """One page of the queue under ``params`` (batch, outcome, decision, rejected_before, q),
        the counts over the batch scope, and the batches there are. ``ValueError`` for bad params."""
        flt = self._filter(params)
        with self._lock:
            if self._order is None:
                self._order = sorted(self.rows, key=lambda p: sort_key(self.rows[p]))
            ordered = [self.rows[p] for p in self._order]
            rows, totals, revision = *select(ordered, flt, ordered=True), self.revision
        return {"revision": revision, "total": len(rows), "offset": offset, "rows": rows[offset:offset + limit],
                "counts": totals, "batches": self.batches(), "scope": self.batch, "reviewer": self.reviewer,
                "dest": self.catalogue.url}

    def changes(self, since: int, params: dict[str, Any]) -> dict[str, Any]:
        """Rows changed after revision ``since`` (other tabs, other reviewers) and the counts now."""
        self.refresh()
        flt = self._filter(params)
        with self._lock:
            rows = [self.rows[p] for p, rev in self.changed_at.items() if rev > since and p in self.rows]
            gone = [p for p, rev in self.changed_at.items() if rev > since and p not in self.rows]
            totals = counts(r for r in self.rows.values() if flt.scope(r))
            return {"revision": self.revision, "rows": rows, "gone": gone, "counts": totals}

    def batches(self) -> list[dict[str, Any]]:
        """The homes, newest first: {"id", "created_at", "items", "kind"}."""
        return sorted(({"id": h, "created_at": i.get("created_at"), "items": i.get("items"), "kind": i.get("kind")}
                       for h, i in self.homes.items()), key=lambda b: (str(b["created_at"] or ""), b["id"]),
                      reverse=True)

    def product_view(self, pid: str, version_id: str | None = None) -> dict[str, Any]:
        """A product: its row, every version (newest first) with its decisions, what is live, and
        the detail of one version (the newest unless ``version_id``). ``UnknownProduct``."""
        with self._lock:
            product = self.products.get(pid)
            row = self.rows.get(pid)
        if product is None or row is None:
            raise UnknownProduct(pid)
        versions = ordered_versions(product)
        shown = product["versions"].get(version_id) if version_id else versions[-1]
        if shown is None:
            raise UnknownProduct(f"{pid} has no version {version_id!r}")
        live_by_version: dict[str, list[dict[str, Any]]] = {}
        for target, live in product.get("live", {}).items():
            live_by_version.setdefault(live.get("version"), []).append({"target": target, **live})
        history = []
        for number, version in reversed(list(enumerate(versions, 1))):
            state, decision, carried = effective(product, version)
            history.append({
                "id": version["id"], "number": number, "home": version.get("home"), "item": version.get("item"),
                "origin": version.get("origin", "batch"), "source": version.get("source"),
                "created_at": version.get("created_at"), "outcome": version.get("outcome"),
                "state": state, "carried": carried, "reviewer": version.get("reviewer"),
                "carried_note": carried_note(decision) if carried and decision else None,
                "decisions": [d for d in reversed(product.get("decisions", [])) if d.get("version") == version["id"]],
                "live": live_by_version.get(version["id"], []), "newest": version is versions[-1],
            })
        return {"product": pid, "row": row, "history": history, "version": self.version_view(product, shown),
                "live": [{"target": t, **v} for t, v in sorted(product.get("live", {}).items())]}

    def version_view(self, product: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
        """What the page needs to show one version: files (with hashes), variants, the gate's
        checks with their thresholds, the reasons in plain words, the heat map's availability."""
        home = version["home"]
        out: dict[str, Any] = {
            "id": version["id"], "home": home, "item": version["item"], "source": version.get("source"),
            "outcome": version.get("outcome"), "status": version.get("status"), "error": version.get("error"),
            "reasons": explain_all(version.get("reasons") or []), "checks": [], "composite": None, "variants": [],
            "has_original": False, "has_mask": False, "frame_hw": None, "logo_boxes": [],
            "default_variant": version.get("default_variant"), "heat": {"available": False, "why": ""},
        }
        if version.get("status") != "ok" or not version.get("file"):
            return out
        meta = self.files.meta(version)
        gate = self._gate_for(product, version)
        out["checks"] = gate_rows(meta.get("metrics"), gate)
        out["composite"] = {"file": version["file"], "sha256": version["sha256"]}
        out["has_original"] = self.files.exists(home, item_file(version["item"], "original.png"))
        out["has_mask"] = self.files.exists(home, item_file(version["item"], "mask.png"))
        out["frame_hw"], out["logo_boxes"] = self.files.frame(meta)
        metas = meta.get("variants") if isinstance(meta.get("variants"), list) else []
        for k, variant in enumerate(version.get("variants") or []):
            vmeta = metas[k] if k < len(metas) and isinstance(metas[k], dict) else {}
            out["variants"].append({"index": k, "file": variant.get("file"), "sha256": variant.get("sha256"),
                                    "verdict": variant.get("verdict"),
                                    "reasons": explain_all(vmeta.get("reasons") or []),
                                    "checks": gate_rows(vmeta.get("metrics"), gate)})
        out["heat"] = heat_availability(meta.get("metrics") or {}, out["has_original"], out["has_mask"])
        return out

    def _gate_for(self, product: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
        """The gate thresholds the version was judged by (a fix: those of the version it fixed)."""
        home = version["home"]
        if home == FIXES_HOME and version.get("based_on") in product["versions"]:
            home = product["versions"][version["based_on"]]["home"]
        return self.homes.get(home, {}).get("gate") or {}

    def snapshot(self, pid: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(product, queue row) as this session holds them now (None, None when unknown)."""
        with self._lock:
            return self.products.get(pid), self.rows.get(pid)

    def put_product(self, pid: str, product: dict[str, Any] | None) -> dict[str, Any]:
        """Take ``product`` as written by this server (a saved fix); returns {"row", "revision"}."""
        with self._lock:
            self._set(pid, product)
            return {"row": self.rows.get(pid), "revision": self.revision}

    def version(self, pid: str, version_id: str) -> dict[str, Any]:
        with self._lock:
            product = self.products.get(pid)
        version = (product or {}).get("versions", {}).get(version_id)
        if version is None:
            raise UnknownProduct(f"{pid} / {version_id}")
        return version

    def version_at(self, home: str, item: str) -> dict[str, Any]:
        """The version stored at ``home/item`` (the overlay routes address it by its folder)."""
        version_id = f"{home}/{item}"
        with self._lock:
            for product in self.products.values():
                if version_id in product["versions"]:
                    return product["versions"][version_id]
        raise UnknownProduct(version_id)

    def read_file(self, home: str, rel: str) -> bytes:
        if home not in self.homes and home != FIXES_HOME:
            raise FileNotFoundError(home)
        return self.files.read(home, rel)

    def decisions_block(self, home: str) -> dict[str, Any]:
        """``report["decisions"]`` for one batch as it stands now (the served report.html shows it)."""
        items: dict[str, Any] = {}
        with self._lock:
            for product in self.products.values():
                for version in product["versions"].values():
                    if version.get("home") != home:
                        continue
                    state, d, carried = effective(product, version)
                    if d is not None:
                        items[version["item"]] = {"decision": state, "note": carried_note(d) if carried else d["note"],
                                                  "variant": d.get("variant"), "reviewer": d.get("reviewer"),
                                                  "decided_at": d.get("decided_at"), "composite_sha256": d.get("sha256")}
            revision = self.revision
        total = int(self.homes.get(home, {}).get("items") or 0)
        tally = {k: sum(e["decision"] == k for e in items.values()) for k in ("approved", "rejected")}
        return {"revision": revision, "items": items,
                "counts": {**tally, "undecided": max(0, total - sum(tally.values()))}}

    # ------------------------------------------------------------------ deciding
    def decide(self, pid: Any, version_id: Any, decision: Any, *, note: Any = "", variant: Any = None,
               seen_sha256: Any = None) -> dict[str, Any]:
        """Record one decision on a version. Returns {"decision", "row", "revision"}.
        ``UnknownProduct`` (404), ``StaleCompositeError`` (409), ``DecisionError`` (400)."""
        if not isinstance(pid, str) or not isinstance(version_id, str):
            raise DecisionError("product and version must be strings")
        with self._lock:
            product = self.products.get(pid)
        if product is None:
            raise UnknownProduct(pid)
        d, now = self.catalogue.decide(pid, version_id, decision, self.reviewer, note=note, variant=variant,
                                       seen_sha256=seen_sha256, product=product)
        with self._lock:
            self._set(pid, now)
            return {"decision": d, "row": self.rows.get(pid), "revision": self.revision}

    def approvable(self, params: dict[str, Any]) -> list[str]:
        """Products "approve all passed" would approve now: newest version passed, no decision,
        never rejected before (in the batch scope of ``params``)."""
        flt = self._filter({"batch": params.get("batch")})
        with self._lock:
            return sorted(p for p, r in self.rows.items() if flt.scope(r) and r["approvable"])

    def approve_passed(self, expected: Any, params: dict[str, Any]) -> dict[str, Any]:
        """Approve every approvable product in scope, if there are exactly ``expected`` of them (the
        count the reviewer confirmed); ``DecisionError`` naming the real count otherwise.

        Each is checked again inside its shard's compare-and-swap, so a product another reviewer
        decided meanwhile is left as they decided it; journal files follow for those approved."""
        self._refreshed = 0.0
        self.refresh()
        pids = self.approvable(params)
        if isinstance(expected, bool) or not isinstance(expected, int) or len(pids) != expected:
            raise DecisionError(f"{len(pids)} passed products have no decision now, not {expected}; look again")
        planned, versions = {}, {}
        with self._lock:
            for pid in pids:
                row = self.rows[pid]
                version = self.products[pid]["versions"][row["version"]]
                d, _ = self.catalogue.check_decision(pid, row["version"], "approved", self.reviewer,
                                                     note=APPROVE_ALL_NOTE, seen_sha256=version["sha256"],
                                                     how="approve-all", product=self.products[pid])
                planned[pid], versions[d["version"]] = d, version
        applied: list[str] = []

        def make(pid: str):
            def change(p: dict[str, Any] | None) -> dict[str, Any] | None:
                s = summarize(p) if p is not None else None
                if s is None or not s["approvable"] or s["version"] != planned[pid]["version"]:
                    return p  # decided by someone else meanwhile: left as it is
                add_decision(p, planned[pid])
                applied.append(pid)
                return p
            return change

        now = self.catalogue.update({pid: make(pid) for pid in planned})
        done = sorted(set(applied))
        for pid in done:
            d = planned[pid]
            write_journal(self.catalogue.store, versions[d["version"]]["home"], versions[d["version"]]["item"], d)
        with self._lock:
            for pid, product in now.items():
                self._set(pid, product)
            return {"approved": done, "skipped": sorted(set(planned) - set(done)),
                    "rows": [self.rows[p] for p in planned if p in self.rows], "revision": self.revision}


def heat_availability(metrics: dict[str, Any], has_original: bool, has_mask: bool) -> dict[str, Any]:
    """Whether the ΔE00 heat map carries information, and one line why not."""
    if not has_original or not has_mask:
        return {"available": False, "why": "No heat map: this batch has no original.png or mask.png for the item "
                                           "(written by product-scene runs since the review app)."}
    p95 = metrics.get("delta_e00_p95")
    if isinstance(p95, int | float) and p95 < HEAT_LOW:
        return {"available": False,
                "why": f"No heat map: the product's colours equal the photo's (ΔE00 p95 {p95:.2f}, under "
                       f"{HEAT_LOW:g}). That is what exact mode does: it pastes the photo's own product pixels back."}
    return {"available": True, "why": ""}
