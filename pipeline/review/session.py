"""What the review page shows and does, without any web code (the server only routes to it).

A :class:`ReviewSession` holds one batch folder and one reviewer name. Items come in the
report's order (failures, then errors, then passes, as in report.html). Every decision records
the sha256 of the composite the reviewer saw; a decision whose hash is not the current file's
(the batch was rerun with ``--reprocess`` meanwhile) is refused with :class:`StaleCompositeError`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from pipeline.config import ScoreConfig
from pipeline.errors import UnsafeKeyError
from pipeline.io.imageio import decode_image, encode_png
from pipeline.ledger import record_from_json
from pipeline.report.html import GROUP_ORDER
from pipeline.report.summary import item_outcome
from pipeline.review.decisions import Decision, DecisionError, DecisionStore, counts
from pipeline.review.folder import BatchFolder, item_file
from pipeline.review.publish import PublishRecords, composite_file, sha256_hex
from pipeline.review.reports import refresh_reports
from pipeline.review.views import delta_e_heatmap, delta_e_map, mask_edge_overlay, mask_in_frame, product_core
from pipeline.place.placement import map_box
from pipeline.types import Placement

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 256 << 20
CACHE_ITEMS = 48


class StaleCompositeError(DecisionError):
    """The composite on disk is not the one the reviewer saw."""


class ReviewSession:
    """One batch under review. Thread-safe: the server calls it from a thread pool."""

    def __init__(self, folder: BatchFolder, reviewer: str):
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise ValueError(f"reviewer must be a non-empty name, got {reviewer!r}")
        self.folder = folder
        self.reviewer = reviewer.strip()
        self.decisions = DecisionStore(folder)
        self.report = folder.report()
        self.items = _ordered_items(self.report)
        self.by_id = {item["id"]: item for item in self.items}
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    def batch_view(self) -> dict[str, Any]:
        """The page's first load: the batch, its gate, every item (ordered) and every decision."""
        doc = self.decisions.load()
        ids = [item["id"] for item in self.items]
        return {
            "revision": int(doc.get("revision", 0)),
            "batch_id": self.folder.batch_id,
            "batch_url": self.folder.url,
            "reviewer": self.reviewer,
            "summary": self.report.get("summary", {}),
            "gate": (self.report.get("extra") or {}).get("gate") or {},
            "items": [_item_summary(item) for item in self.items],
            "decisions": _public_decisions(doc),
            "counts": counts(doc, ids),
            "published": self.published(),
        }

    def decisions_view(self) -> dict[str, Any]:
        """Every decision now (other tabs and reviewers included) and its revision."""
        doc = self.decisions.load()
        return {"revision": int(doc.get("revision", 0)), "decisions": _public_decisions(doc),
                "counts": counts(doc, list(self.by_id))}

    def published(self) -> dict[str, list[dict[str, Any]]]:
        """item id -> [{"target", "key", "published_at", "sha256"}] from published.json."""
        out: dict[str, list[dict[str, Any]]] = {}
        try:
            doc = PublishRecords(self.folder).load()
        except ValueError as exc:
            log.warning("%s", exc)
            return out
        for target, rows in doc.get("targets", {}).items():
            for item_id, row in (rows or {}).items():
                if isinstance(row, dict):
                    out.setdefault(item_id, []).append({"target": target, "key": row.get("key"),
                                                        "published_at": row.get("published_at"),
                                                        "sha256": row.get("sha256")})
        return out

    def item(self, item_id: str) -> dict[str, Any]:
        """KeyError when the batch has no such item."""
        return self.by_id[item_id]

    def item_view(self, item_id: str) -> dict[str, Any]:
        """One item's detail: its files (composite URLs carry their sha256), variants, logo boxes."""
        item = self.item(item_id)
        meta = self._meta(item_id)
        out: dict[str, Any] = {"id": item_id, "has_original": False, "variants": [], "logo_boxes": [],
                               "frame_hw": None, "default_variant": meta.get("variant")}
        if item.get("status") != "ok":
            return out
        _, sha = self.composite(item_id, None)
        out["composite"] = {"file": composite_file(item, None), "sha256": sha}
        out["has_original"] = self.folder.exists(item_file(item_id, "original.png"))
        out["has_mask"] = self.folder.exists(item_file(item_id, "mask.png"))
        variants = meta.get("variants") if isinstance(meta.get("variants"), list) else []
        for k, variant in enumerate(variants):
            _, vsha = self.composite(item_id, k)
            out["variants"].append({"index": k, "file": composite_file(item, k), "sha256": vsha,
                                    "verdict": variant.get("verdict"), "reasons": variant.get("reasons") or [],
                                    "metrics": variant.get("metrics") or {}, "seed": variant.get("seed")})
        placement = _placement(meta)
        if placement is not None:
            out["frame_hw"] = list(placement.out_hw)
            for box in meta.get("logo_boxes_input") or []:
                try:
                    x0, y0, x1, y1 = map_box(tuple(int(v) for v in box), placement)
                except (TypeError, ValueError):
                    continue
                if x1 > x0 and y1 > y0:
                    out["logo_boxes"].append([x0, y0, x1, y1])
        return out

    def _meta(self, item_id: str) -> dict[str, Any]:
        try:
            meta = self.folder.read_json(item_file(item_id, "meta.json"), max_bytes=16 << 20)
        except (FileNotFoundError, ValueError, UnsafeKeyError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def read_file(self, rel: str) -> bytes:
        return self.folder.read_bytes(rel, max_bytes=MAX_IMAGE_BYTES)

    def composite(self, item_id: str, variant: int | None) -> tuple[bytes, str]:
        """(bytes, sha256) of an item's composite (``variant`` None: the one the report shows)."""
        data = self.read_file(composite_file(self.item(item_id), variant))
        return data, sha256_hex(data)

    # ------------------------------------------------------------------ pictures
    def _cached(self, key: tuple, make):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = make()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_ITEMS:
                self._cache.popitem(last=False)
        return value

    def _frame_mask(self, item_id: str) -> np.ndarray:
        placement = _placement(self._meta(item_id))
        if placement is None:
            raise FileNotFoundError(f"{item_id}: meta.json has no placement")
        mask = decode_image(self.read_file(item_file(item_id, "mask.png")), name="mask.png").rgb[..., 0]
        return mask_in_frame(mask, placement.matrix, placement.out_hw)

    def edges_png(self, item_id: str) -> bytes:
        """The mask outline in the composite's frame, RGBA PNG (see :func:`mask_edge_overlay`)."""
        self.item(item_id)
        stamp = self._stamp(item_file(item_id, "mask.png"))
        return self._cached(("edges", item_id, stamp), lambda: encode_png(mask_edge_overlay(self._frame_mask(item_id))))

    def heat_png(self, item_id: str, variant: int | None) -> bytes:
        """ΔE00 of the composite against original.png over the product's interior, RGBA PNG."""
        data, sha = self.composite(item_id, variant)

        def make() -> bytes:
            composite = decode_image(data, name="composite.png").rgb
            original = decode_image(self.read_file(item_file(item_id, "original.png")), name="original.png").rgb
            core = product_core(self._frame_mask(item_id), ScoreConfig().edge_erode_px)
            return encode_png(delta_e_heatmap(delta_e_map(composite, original, core)))

        return self._cached(("heat", item_id, sha), make)

    def _stamp(self, rel: str) -> str:
        try:
            info = self.folder.dest.fs.info(self.folder.dest.path(self.folder.key(rel)))
        except FileNotFoundError:
            raise FileNotFoundError(rel) from None
        return str((info.get("size"), info.get("mtime") or info.get("ETag") or info.get("LastModified")))

    # ------------------------------------------------------------------ deciding
    def decide(self, item_id: str, decision: str, *, note: str = "", variant: int | None = None,
               seen_sha256: str | None = None) -> dict[str, Any]:
        """Record one decision; returns {"entry", "revision", "counts", "decisions"} (every decision
        as written, other reviewers' included).

        ``seen_sha256``: the hash of the composite the page showed (required unless the decision is
        ``undecided``); it must still be the file's hash. ``DecisionError`` for bad values,
        ``KeyError`` for an unknown item."""
        item = self.item(item_id)
        current = None
        if item.get("status") == "ok":
            _, current = self.composite(item_id, variant)
        if decision == "approved" and current is None:
            raise DecisionError(f"{item_id} has no composite to approve (status {item.get('status')})")
        if decision != "undecided" or seen_sha256 is not None:
            if current is not None and seen_sha256 != current:
                raise StaleCompositeError(f"the composite of {item_id} changed since the page showed it "
                                          "(the batch was rerun?); reload the page and look again")
        entry = Decision(item_id, decision, self.reviewer, note=note, variant=variant, composite_sha256=current)
        doc = self.decisions.record([entry])
        self._refresh(doc)
        return {"entry": _public_entry(doc["items"][item_id]), "revision": doc["revision"],
                "counts": counts(doc, list(self.by_id)), "decisions": _public_decisions(doc)}

    def passed_undecided(self, doc: dict[str, Any] | None = None) -> list[str]:
        """Ids of passed items that have no decision yet (what "approve all passed" approves)."""
        doc = doc if doc is not None else self.decisions.load()
        entries = doc.get("items", {})
        return [item["id"] for item in self.items if item.get("status") == "ok" and item.get("verdict") == "pass"
                and (entries.get(item["id"]) or {}).get("decision", "undecided") == "undecided"]

    def approve_passed(self, expected: int) -> dict[str, Any]:
        """Approve every passed, undecided item, if there are exactly ``expected`` of them (the
        count the reviewer confirmed); ``DecisionError`` naming the real count otherwise."""
        ids = self.passed_undecided()
        if len(ids) != expected:
            raise DecisionError(f"{len(ids)} passed items are undecided now, not {expected}; look again")
        entries = [Decision(i, "approved", self.reviewer, note="approved with 'approve all passed'",
                            composite_sha256=self.composite(i, None)[1]) for i in ids]
        doc = self.decisions.record(entries) if entries else self.decisions.load()
        if entries:
            self._refresh(doc)
        return {"approved": ids, "revision": doc.get("revision", 0), "counts": counts(doc, list(self.by_id)),
                "decisions": _public_decisions(doc)}

    def _refresh(self, doc: dict[str, Any]) -> None:
        try:
            refresh_reports(self.folder, doc)
        except Exception as exc:  # noqa: BLE001 - the decision is saved; a report refresh can wait
            log.warning("decision saved, but report.html/report.json could not be refreshed: %s", exc)


def _ordered_items(report: dict[str, Any]) -> list[dict[str, Any]]:
    items = [i for i in report.get("items", []) if isinstance(i, dict) and isinstance(i.get("id"), str)]
    return sorted(items, key=lambda i: GROUP_ORDER[item_outcome(record_from_json(i))])


def _item_summary(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], "source": item.get("source"), "status": item.get("status"),
            "outcome": item_outcome(record_from_json(item)), "verdict": item.get("verdict"),
            "reasons": item.get("reasons") or [], "error": item.get("error"), "metrics": item.get("metrics") or {}}


def _public_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in ("decision", "note", "variant", "reviewer", "decided_at", "composite_sha256",
                                      "rev")}


def _public_decisions(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: _public_entry(v) for k, v in doc.get("items", {}).items() if isinstance(v, dict)}


def _placement(meta: dict[str, Any]) -> Placement | None:
    p = meta.get("placement")
    if not isinstance(p, dict):
        return None
    try:
        return Placement(matrix=np.asarray(p["matrix"], np.float64), out_hw=tuple(int(v) for v in p["out_hw"]),
                         box_xyxy=tuple(int(v) for v in p["box_xyxy"]), horizon_y=0)
    except (KeyError, TypeError, ValueError):
        return None
