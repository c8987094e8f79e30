"""Fuse two cut-outs of one photo: the classical segmenter's and a salient-object model's.

The two fail in different places, so the fusion keeps what both keep and decides each region where
they disagree by what each is known to get wrong:

* The model outlined a part of the classical product (a print, a label: saliency picks what stands
  out) when its filled silhouette covers under ``SUBPART_COVER`` of the classical mask and lies
  inside it: the classical mask is kept whole.
* Classical-only regions *inside* the model's filled silhouette are holes the model opened in the
  product. The model tends to see backdrop in mirrors, platters and white panels, so such a region
  stays, unless it passes the classical segmenter's own strict hole test (its median ΔE76 to the
  fitted backdrop under ``max(STRICT_DE_MIN, STRICT_DE_NOISE x noise)``): a see-through gap the
  classical segmenter could not isolate (it met a white part through a gap in a faint outline).
* Classical-only regions *outside* the model's silhouette are what the classical segmenter is known
  to keep: textured backdrop (bedsheet folds), crisp cast shadows, props, vignetted corners. They go,
  unless they are a large coloured part (``SUBPART_SHARE`` of the product, neither backdrop- nor
  shadow-coloured): a saliency model dropping a coloured part, not a classical leak.
* Model-only regions are product the classical segmenter lost (white parts on white, a pale top on a
  graded sweep). They are added, except a shadow-coloured region under the classical product's base:
  a floor shadow or reflection the model kept, which the classical segmenter peeled off.

Decisions are taken at ``DECISION_SIDE`` pixels (long side) and applied to the full-resolution masks.
The disagreement fraction (``|classical xor model| / |fused|``) measures how unsure the cut-out is.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.segment.background import fit_background
from pipeline.imaging import resize_long_side, rgb_to_lab
from pipeline.segment.classical import STRICT_DE_MIN, STRICT_DE_NOISE, WEAK_DE_MIN, WEAK_DE_NOISE
from pipeline.segment.shadow_predicate import PEEL, is_shadow_lab
from pipeline.segment.work_scale import REFERENCE_SIDE

DECISION_SIDE = REFERENCE_SIDE  # long side (px) the regions are judged at (the classical constants' size)
SUBPART_COVER = 0.6  # the model's filled silhouette covers less than this share of the classical mask ...
SUBPART_INSIDE = 0.9  # ... and lies this much inside it: the model outlined a part (a print, a label)
SUBPART_SHARE = 0.3  # share of the classical product: a coloured region this large the model dropped is product
MAJORITY = 0.5  # a region "is" inside / coloured / under / shadow when over this share of its pixels are


@dataclass(frozen=True)
class Fusion:
    """mask: HW bool full resolution; how: ``regions`` or ``classical (model outlined a part)``;
    disagreement: |classical xor model| / |mask|; kept/dropped/added: shares of the classical
    product's area (classical-only kept, classical-only dropped, model-only added)."""

    mask: np.ndarray
    how: str
    disagreement: float
    kept: float = 0.0
    dropped: float = 0.0
    added: float = 0.0


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """HW bool: ``mask`` with every region it encloses (not reachable from the frame) filled."""
    h, w = mask.shape
    outside = np.ones((h + 2, w + 2), np.uint8)  # a ring of outside around the frame
    outside[1:-1, 1:-1] = ~mask
    cv2.floodFill(outside, None, (0, 0), 2)
    return mask | (outside[1:-1, 1:-1] == 1)


def _shrink(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HW bool at ``size`` (w, h): share of the mask over 0.5 per target pixel."""
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5


def _below_base(product: np.ndarray) -> np.ndarray:
    """HW bool: pixels under the lowest ``product`` pixel of their column (False in empty columns)."""
    h = product.shape[0]
    has = product.any(axis=0)
    lowest = h - 1 - np.argmax(product[::-1], axis=0)
    return (np.arange(h)[:, None] > lowest[None, :]) & has[None, :]


def fuse_masks(rgb: np.ndarray, classical: np.ndarray, model: np.ndarray) -> Fusion:
    """Fuse the classical mask and the model's mask of ``rgb`` (see module doc).

    rgb: HWC uint8; classical, model: HW bool at the same (H, W). Returns a :class:`Fusion`.
    """
    both = classical & model
    area_c = max(int(classical.sum()), 1)
    filled = fill_holes(model)
    over = int((filled & classical).sum())
    if over < SUBPART_COVER * area_c and over > SUBPART_INSIDE * max(int(filled.sum()), 1):
        return Fusion(classical, "classical (model outlined a part)", _disagreement(classical, model, classical))

    small, _ = resize_long_side(rgb, DECISION_SIDE)
    size = (small.shape[1], small.shape[0])
    c_s, m_s, f_s = _shrink(classical, size), _shrink(model, size), _shrink(filled, size)
    lab = rgb_to_lab(small)
    bg = fit_background(lab, small)
    dist = np.linalg.norm(lab - bg.lab, axis=2)
    backdrop_like = dist <= max(WEAK_DE_MIN, WEAK_DE_NOISE * bg.noise)
    strict = max(STRICT_DE_MIN, STRICT_DE_NOISE * bg.noise)
    shadow = is_shadow_lab(lab, bg.lab, PEEL) & ~backdrop_like
    coloured = ~backdrop_like & ~shadow
    area_s = max(int(c_s.sum()), 1)

    keep = np.zeros(c_s.shape, bool)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((c_s & ~m_s).astype(np.uint8), connectivity=8)
    for i in range(1, n):
        region = labels == i
        inside = f_s[region].mean() > MAJORITY and float(np.median(dist[region])) >= strict
        part = coloured[region].mean() > MAJORITY and stats[i, cv2.CC_STAT_AREA] >= SUBPART_SHARE * area_s
        if inside or part:
            keep |= region
    add = np.zeros(c_s.shape, bool)
    under = _below_base(c_s)
    n, labels = cv2.connectedComponents((m_s & ~c_s).astype(np.uint8), connectivity=8)
    for i in range(1, n):
        region = labels == i
        floor_shadow = under[region].mean() > MAJORITY and shadow[region].mean() > MAJORITY
        if not floor_shadow:
            add |= region

    k3 = np.ones((3, 3), np.uint8)  # one decision pixel of slack: full-res edges between two cells
    up = (classical.shape[1], classical.shape[0])
    keep_f = cv2.resize(cv2.dilate(keep.astype(np.uint8), k3), up, interpolation=cv2.INTER_NEAREST) > 0
    add_f = cv2.resize(cv2.dilate(add.astype(np.uint8), k3), up, interpolation=cv2.INTER_NEAREST) > 0
    fused = both | (classical & keep_f) | (model & add_f)
    only_c = classical & ~model
    return Fusion(fused, "regions", _disagreement(classical, model, fused),
                  kept=float((only_c & fused).sum()) / area_c, dropped=float((only_c & ~fused).sum()) / area_c,
                  added=float((model & ~classical & fused).sum()) / area_c)


def _disagreement(classical: np.ndarray, model: np.ndarray, fused: np.ndarray) -> float:
    """|classical xor model| / |fused| (0 when the fused mask is empty)."""
    area = int(fused.sum())
    return float((classical ^ model).sum()) / area if area else 0.0
