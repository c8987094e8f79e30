"""Logo and text regions found inside the product by edge density (a sidecar may name them instead:
:mod:`pipeline.place.sidecar`).

Printed text and logos are dense clusters of short, strong edges; the product's own outline and
smooth shading are not. We close Canny edges inside the eroded product mask into blobs and keep
the blobs that are edge-dense, not too large, and not too small. A dense label whose blob merged
with the product's own edges (and so is too large and too sparse as a whole) is found by a
second pass over windows of high edge density.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import BoxXYXY

WORK_SIDE = 512
DENSE_WIN = 11  # px at the work size: the window of the edge-density pass
DENSE_MIN = 0.14  # share of edge pixels in that window that marks printed text
RIM_PX = 16.0  # px at the work size: edges this near the outline belong to it (its shading, a seam)
RIM_SHARE = 0.5  # share of a box's edges that near the outline for the box to be the outline's
FINDER_EXTRA = 2  # with the text detector: the finder's boxes added at most (graphic marks)
FINDER_MAX_ASPECT = 4.0  # ... only compact ones (long thin boxes are seams and rims; text is the detector's)
# RIM_*, FINDER_*: chosen on ../shared/products/text_regions (bench/logo_recall.py, docs/gate.md):
# they halve the finder's false boxes on logo-free photos without losing a true box.
MERGE_OVERLAP = 0.6  # a finder box this much inside a detector box is the same region


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection area / the smaller box's area, for xyxy boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / max(smaller, 1)


def _dense_windows(edges: np.ndarray, inner: np.ndarray, product_area: float,
                   taken: list[tuple[int, int, int, int]]) -> list[tuple[float, tuple[int, int, int, int]]]:
    """Second pass for dense printed labels, whose blob merges with the product's own outline
    and shading edges into one large, sparse blob that the first pass rejects: windows
    (``DENSE_WIN`` px) where the edge density is at least ``DENSE_MIN`` form the regions.
    Boxes mostly inside one already ``taken`` are skipped. Returns (score, xyxy) pairs."""
    density = cv2.blur(edges.astype(np.float32), (DENSE_WIN, DENSE_WIN))
    dense = ((density >= DENSE_MIN) & inner).astype(np.uint8)
    dense = cv2.morphologyEx(dense, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dense, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        box = (int(x), int(y), int(x + bw), int(y + bh))
        if not (0.001 * product_area <= area <= 0.5 * product_area) or min(bw, bh) < 6:
            continue
        if any(_overlap(box, t) > 0.6 for t in taken):
            continue
        d = float(edges[y:y + bh, x:x + bw].mean())
        out.append((d * np.sqrt(area), box))
    return out


def find_logo_regions(rgb: np.ndarray, mask: np.ndarray, max_regions: int = 6,
                      text_detector: str = "none") -> tuple[BoxXYXY, ...]:
    """Text/logo-like boxes inside the product.

    rgb: HWC uint8, mask: HW bool (same HW). Returns up to ``max_regions`` boxes in input
    pixels. ``text_detector="rapidocr"``: the learned detector's text blocks first
    (:mod:`pipeline.place.text_detector`, the ``[ocr]`` extra), then at most ``FINDER_EXTRA`` of
    the edge-density finder's most edge-dense compact boxes (a graphic mark: the detector sees text
    only) that are not mostly inside one of them; ``"none"``: the finder's, most edge-dense first.
    """
    if max_regions <= 0 or not mask.any():
        return ()
    found = _edge_density_boxes(rgb, mask, max_regions)
    if text_detector == "none":
        return found
    if text_detector != "rapidocr":
        raise ValueError(f"text_detector must be 'none' or 'rapidocr', got {text_detector!r}")
    from pipeline.place.text_detector import detect_text_boxes, merge_text_lines

    compact = tuple(b for b in found if _aspect(b) <= FINDER_MAX_ASPECT)
    return merge_boxes(merge_text_lines(detect_text_boxes(rgb, mask)), compact, max_regions, FINDER_EXTRA)


def _aspect(box: BoxXYXY) -> float:
    w, h = box[2] - box[0], box[3] - box[1]
    return max(w, h) / max(1, min(w, h))


def _hugs_outline(edges: np.ndarray, depth: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """True when most (``RIM_SHARE``) of the edge pixels in ``box`` (work pixels) lie within
    ``RIM_PX`` of the product's outline (``depth``: distance to it): the outline's own shading,
    a seam or a rim, not print."""
    x0, y0, x1, y1 = box
    e = edges[y0:y1, x0:x1]
    if not e.any():
        return True
    return float(np.mean(depth[y0:y1, x0:x1][e] <= RIM_PX)) >= RIM_SHARE


def merge_boxes(first: tuple[BoxXYXY, ...], then: tuple[BoxXYXY, ...], max_regions: int,
                max_then: int | None = None) -> tuple[BoxXYXY, ...]:
    """``first``, then at most ``max_then`` (None: any number) boxes of ``then`` not mostly
    (``MERGE_OVERLAP``) inside a box of ``first``; at most ``max_regions`` in all."""
    kept = list(first[:max_regions])
    added = 0
    for box in then:
        if len(kept) >= max_regions or (max_then is not None and added >= max_then):
            break
        if not any(_overlap(box, k) > MERGE_OVERLAP for k in first):
            kept.append(box)
            added += 1
    return tuple(kept)


def _edge_density_boxes(rgb: np.ndarray, mask: np.ndarray, max_regions: int) -> tuple[BoxXYXY, ...]:
    """The edge-density finder (module docstring): up to ``max_regions`` boxes, most edge-dense first."""
    h, w = mask.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    else:
        small, m = rgb, mask
    inner = cv2.erode(m.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    if inner.sum() < 64:
        return ()
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 60, 150) > 0
    edges &= inner
    blobs = cv2.morphologyEx(edges.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    blobs = cv2.dilate(blobs, np.ones((3, 3), np.uint8)) & inner.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    product_area = float(inner.sum())
    edge_count = np.bincount(labels.ravel(), weights=edges.ravel().astype(np.float32), minlength=n)
    candidates = []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        density = edge_count[i] / max(bw * bh, 1)
        if not (0.001 * product_area <= area <= 0.35 * product_area) or min(bw, bh) < 6 or density < 0.06:
            continue
        candidates.append((density * np.sqrt(area), (x, y, x + bw, y + bh)))
    candidates += _dense_windows(edges, inner, product_area, [c[1] for c in candidates])
    if RIM_PX > 0:
        depth = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 3)
        candidates = [c for c in candidates if not _hugs_outline(edges, depth, c[1])]
    candidates.sort(key=lambda c: -c[0])
    pad = 2
    boxes = []
    for _, (x0, y0, x1, y1) in candidates[:max_regions]:
        boxes.append((
            max(0, int((x0 - pad) / scale)), max(0, int((y0 - pad) / scale)),
            min(w, int(np.ceil((x1 + pad) / scale))), min(h, int(np.ceil((y1 + pad) / scale))),
        ))
    return tuple(boxes)
