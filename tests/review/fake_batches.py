"""Batch folders written directly, in the layout ``product-scene run`` writes (report.json, item
folders with composite.png, original.png, mask.png, meta.json), for queues too large to make with
the pipeline in a test: the 200-product keyboard test and bench/bench_review.py's 10,000 items.

Each item's pictures are small generated PNGs, distinct per (key, ``look``): the same key and
look give the same bytes (a version equal to an earlier one), another look other bytes.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pipeline.batch.ids import item_id_for_key
from pipeline.config import GateConfig

SIDE = 96  # pixels of each generated picture
BASE_OFF_LIMIT = GateConfig().cutout_base_off_max  # the shipped limit (bench/gate_fit.py chooses it)
FAIL_REASON = f"cut-out: base outline off any edge 31% > {BASE_OFF_LIMIT:.0%}"
FAIL_METRICS = {"cutout_base_off": 0.31, "cutout_edge_off": 0.12, "cutout_confidence": 0.41, "delta_e00_mean": 0.0,
                "delta_e00_p95": 0.0, "ssim": 1.0, "scene_contact": 0.2}
PASS_METRICS = {"cutout_base_off": 0.04, "cutout_edge_off": 0.05, "cutout_confidence": 0.93, "delta_e00_mean": 0.0,
                "delta_e00_p95": 0.0, "ssim": 1.0, "scene_contact": 0.2}


@dataclass
class FakeItem:
    key: str
    outcome: str = "pass"  # pass | fail | error
    look: int = 0  # another look: other composite bytes
    sku: str | None = None
    extra_meta: dict = field(default_factory=dict)


def _png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return buf.tobytes()


def picture(key: str, look: int) -> bytes:
    """A product-like picture that depends only on (key, look)."""
    seed = zlib.crc32(f"{key}|{look}".encode())
    rng = np.random.default_rng(seed)
    img = np.full((SIDE, SIDE, 3), 236, np.uint8)
    colour = tuple(int(c) for c in rng.integers(30, 220, 3))
    cv2.rectangle(img, (20, 16), (SIDE - 20, SIDE - 12), colour, -1)
    cv2.putText(img, str(seed % 1000), (24, SIDE // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return _png(img)


_MASK: bytes | None = None


def _mask() -> bytes:
    global _MASK
    if _MASK is None:
        m = np.zeros((SIDE, SIDE, 3), np.uint8)
        m[16:SIDE - 12, 20:SIDE - 20] = 255
        _MASK = _png(m)
    return _MASK


def write_fake_batch(dest: Path, batch_id: str, items: list[FakeItem], created_at: str,
                     gate: dict | None = None) -> Path:
    """``dest/batch_id`` with one item folder per ``items`` entry and its report.json."""
    folder = dest / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    placement = {"matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "out_hw": [SIDE, SIDE], "box_xyxy": [20, 16, 76, 84]}
    for it in items:
        item_id = item_id_for_key(it.key)
        row = {"id": item_id, "source": it.key, "status": "ok", "error": None, "verdict": it.outcome,
               "reasons": [FAIL_REASON] if it.outcome == "fail" else [],
               "metrics": FAIL_METRICS if it.outcome == "fail" else PASS_METRICS, "outputs": {},
               "timings_ms": {}, "content_hash": hashlib.sha256(it.key.encode()).hexdigest()}
        if it.outcome == "error":
            row.update(status="error", verdict=None, reasons=[], metrics=None,
                       error=f"not an image: {it.key} could not be decoded")
            rows.append(row)
            continue
        item_dir = folder / item_id
        item_dir.mkdir(exist_ok=True)
        composite = picture(it.key, it.look)
        (item_dir / "composite.png").write_bytes(composite)
        (item_dir / "original.png").write_bytes(composite)
        (item_dir / "mask.png").write_bytes(_mask())
        meta = {"source": it.key, "verdict": it.outcome, "reasons": row["reasons"], "metrics": row["metrics"],
                "placement": placement, "logo_boxes_input": [], "sku": it.sku,
                "composite_sha256": {"composite.png": hashlib.sha256(composite).hexdigest()}, **it.extra_meta}
        (item_dir / "meta.json").write_text(json.dumps(meta))
        row["outputs"] = {"composite": str(item_dir / "composite.png"), "meta": str(item_dir / "meta.json")}
        rows.append(row)
    report = {"batch_id": batch_id, "backend": "fake", "config_hash": "0" * 16, "created_at": created_at,
              "summary": {"total": len(rows)}, "items": rows,
              "extra": {"gate": gate if gate is not None else GateConfig().model_dump()}}
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def spread_queue(dest: Path, products: int, batches: int, *, fail_every: int = 4) -> list[str]:
    """``products`` products over ``batches`` batches (product i first appears in batch i % batches;
    every third product gets a second version in the next batch). Returns the batch ids."""
    ids = [f"2026010{b + 1}T120000Z-fake{b:02d}" for b in range(batches)]
    per: list[list[FakeItem]] = [[] for _ in range(batches)]
    for i in range(products):
        key = f"incoming/holdout/shelf-{i // 50:02d}/product-{i:04d}.jpg"
        outcome = "fail" if i % fail_every == 0 else "pass"
        per[i % batches].append(FakeItem(key, outcome))
        if i % 3 == 0 and i % batches + 1 < batches:
            per[i % batches + 1].append(FakeItem(key, outcome, look=1))
    for b, items in enumerate(per):
        write_fake_batch(dest, ids[b], items, f"2026-01-0{b + 1}T12:00:00+00:00")
    return ids
