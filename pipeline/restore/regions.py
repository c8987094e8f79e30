"""Logo and text regions: from a sidecar JSON, or found inside the product by edge density.

Printed text and logos are dense clusters of short, strong edges; the product's own outline and
smooth shading are not. We close Canny edges inside the eroded product mask into blobs and keep
the blobs that are edge-dense, not too large, and not too small.
"""

from __future__ import annotations

import json
from typing import Any

import cv2
import numpy as np

from pipeline.types import BoxXYXY

WORK_SIDE = 512


def read_sidecar_boxes(sidecar: dict[str, Any] | None, image_hw: tuple[int, int]) -> tuple[BoxXYXY, ...] | None:
    """``logo_boxes`` from a parsed sidecar (``[[x0, y0, x1, y1], ...]`` in input pixels).

    Returns None when the sidecar has no such key (then regions are found automatically);
    raises ValueError naming the bad entry otherwise. Boxes are clipped to the image.
    """
    if not sidecar or "logo_boxes" not in sidecar:
        return None
    raw = sidecar["logo_boxes"]
    if not isinstance(raw, list):
        raise ValueError(f"sidecar logo_boxes must be a list of [x0, y0, x1, y1], got {type(raw).__name__}")
    h, w = image_hw
    boxes = []
    for i, box in enumerate(raw):
        if not (isinstance(box, list | tuple) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise ValueError(f"sidecar logo_boxes[{i}] must be [x0, y0, x1, y1] numbers, got {box!r}")
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, x1 = max(0, min(x0, x1)), min(w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(h, max(y0, y1))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            boxes.append((x0, y0, x1, y1))
    return tuple(boxes)


def parse_sidecar(data: bytes, name: str) -> dict[str, Any]:
    """Parse sidecar JSON bytes into a dict; ValueError with the file name on bad JSON."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"sidecar {name} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"sidecar {name} must be a JSON object")
    return parsed


def find_logo_regions(rgb: np.ndarray, mask: np.ndarray, max_regions: int = 6) -> tuple[BoxXYXY, ...]:
    """Text/logo-like boxes inside the product.

    rgb: HWC uint8, mask: HW bool (same HW). Returns up to ``max_regions`` boxes in input
    pixels, most edge-dense first.
    """
    if max_regions <= 0 or not mask.any():
        return ()
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
    candidates.sort(key=lambda c: -c[0])
    pad = 2
    boxes = []
    for _, (x0, y0, x1, y1) in candidates[:max_regions]:
        boxes.append((
            max(0, int((x0 - pad) / scale)), max(0, int((y0 - pad) / scale)),
            min(w, int(np.ceil((x1 + pad) / scale))), min(h, int(np.ceil((y1 + pad) / scale))),
        ))
    return tuple(boxes)
