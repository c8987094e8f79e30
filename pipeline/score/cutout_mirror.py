"""Kept reflections: is the lower part of the mask a mirror image of the product above it?

A segmenter that keeps a floor reflection (a glossy or mirror floor) adds, under the product's
base, the product flipped upside down and fainter. For each candidate base line ``yb`` in the
lowest ``SEARCH_FRAC`` of the mask's height, the mask rows below it (``B``) are compared with
the rows above it read upwards (``A``, the mirror image) and with the same rows read downwards
(``S``, a plain shift). The part below is a reflection (at least ``MIN_DEPTH_FRAC`` of the mask's height deep) when

- it lies inside the mirrored mask (``|B ∩ A| / |B| >= CONTAIN_MIN``: the same silhouette),
- its detail (lightness minus its ``DETAIL_SIGMA`` blur) correlates with the mirror image
  (normalised cross-correlation ``>= NCC_MIN``) clearly better than with the shift
  (by ``GAIN_MIN``: a product that looks the same all the way down, a plain can or a cloth, is
  not a reflection of itself), and
- it is fainter than the product (detail std ratio ``<= FAINTER_MAX``: a reflection loses
  contrast into the floor) but still carries detail (ratio ``>= FAINTER_MIN``: a blank face's
  noise correlates with anything).

``cutout_mirror`` = the largest ``|B ∩ A|`` that passes, as a share of the mask's area; 0 when
none does. Computed on a copy whose long side is at most ``WORK_SIDE``.
"""

from __future__ import annotations

import cv2
import numpy as np

# --- Named constants. Chosen on the real photos of ../shared/products: on their true masks the
# signal reads 0 (43 real photos, 5 mockups), while floor reflections painted in by
# bench/gate_defects.py (opacity 0.35) read up to 0.25 where found; see docs/gate.md.
WORK_SIDE = 192  # px: long side of the crop the search runs at (192, 256, 320 find the same painted reflections)
DETAIL_SIGMA = 1.0  # px at WORK_SIDE: detail = lightness - its Gaussian blur of this sigma (1 finds 21 of
# 61 painted reflections; 2 finds 27 but reads 0.12-0.14 on two clean generated samples)
SEARCH_FRAC = 0.45  # share of the mask's height, from the bottom, where the base line may lie
MIN_DEPTH_PX = 3  # px at WORK_SIDE: the least depth of mask under a candidate base line
MIN_DEPTH_FRAC = 0.08  # of the mask's height: ... and the least relative to the product (a few rows
# around a thin horizontal line, a box's bottom edge or a sole's seam, mirror each other too)
STEP_PX = 1  # px at WORK_SIDE between candidate base lines (2 px finds half the painted reflections)
MIN_PIXELS = 32  # overlapping pixels needed to compare at all
LINE_SKIP_SIGMAS = 2.0  # rows within this many DETAIL_SIGMA of the base line are left out of the comparison
CONTAIN_MIN = 0.7  # share of the part below that lies inside the mirrored silhouette
NCC_MIN = 0.5  # correlation of the part below with the mirror image
GAIN_MIN = 0.25  # ... and by how much it beats the plain shift
FAINTER_MAX = 0.8  # detail std of the part below / of the mirror image: a reflection is fainter
FAINTER_MIN = 0.15  # ... but visible: a part below with less detail than this is blank (a plain face's
# noise correlates with anything); a reflection that faint is not visible either


def _centred_norm(x: np.ndarray) -> tuple[np.ndarray, float]:
    """``x - mean`` and its Euclidean norm (1-D float)."""
    x = x - x.mean()
    return x, float(np.sqrt(np.dot(x, x)))


def mirror_below_base(lightness: np.ndarray, mask: np.ndarray) -> float:
    """Share of ``mask`` (HW bool, not empty) that mirrors the product above a base line, judged
    on ``lightness`` (HW float32, L* 0..100, same HW; any resolution: it is read at
    ``WORK_SIDE``). See the module docstring."""
    h, w = mask.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        lightness = cv2.resize(np.ascontiguousarray(lightness), size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size < 2 * MIN_DEPTH_PX:
        return 0.0
    area = float(np.count_nonzero(mask))
    detail = lightness - cv2.GaussianBlur(lightness, (0, 0), DETAIL_SIGMA)
    top, bottom = int(rows[0]), int(rows[-1])
    height = bottom - top + 1
    best = 0.0
    skip = int(np.ceil(LINE_SKIP_SIGMAS * DETAIL_SIGMA))
    first = bottom - max(MIN_DEPTH_PX, int(np.ceil(MIN_DEPTH_FRAC * height)))
    for yb in range(first, bottom - int(SEARCH_FRAC * height), -STEP_PX):
        depth = bottom - yb
        if yb + 1 - depth < top:
            break
        below = slice(yb + 1, bottom + 1)
        above = slice(yb + 1 - depth, yb + 1)
        m_b, m_a = mask[below], mask[above][::-1]
        both = m_b & m_a
        n_both = int(np.count_nonzero(both))
        if n_both < MIN_PIXELS or n_both <= best * area or n_both < CONTAIN_MIN * np.count_nonzero(m_b):
            continue
        # Detail is compared away from the line: the step from the product to its fainter
        # reflection puts an antisymmetric high-pass response on both sides of it.
        far_b, far_a = slice(yb + 1 + skip, bottom + 1), slice(yb + 1 - depth, yb + 1 - skip)
        both_far = both[skip:]
        if np.count_nonzero(both_far) < MIN_PIXELS:
            continue
        d_b, n_b = _centred_norm(detail[far_b][both_far])
        d_a, n_a = _centred_norm(detail[far_a][::-1][both_far])
        if n_a < 1e-6 or not FAINTER_MIN * n_a <= n_b <= FAINTER_MAX * n_a:  # same count: norm ratio = std ratio
            continue
        mirrored = float(np.dot(d_b, d_a)) / max(n_a * n_b, 1e-12)
        if mirrored < NCC_MIN:
            continue
        shift_both = mask[far_b] & mask[yb + 1 - depth: yb + 1 - depth + (bottom - yb - skip)]
        shifted = 0.0
        if shift_both.any():
            s_b, sn_b = _centred_norm(detail[far_b][shift_both])
            s_a, sn_a = _centred_norm(detail[yb + 1 - depth: yb + 1 - depth + (bottom - yb - skip)][shift_both])
            shifted = float(np.dot(s_b, s_a)) / max(sn_a * sn_b, 1e-12)
        if mirrored - max(shifted, 0.0) >= GAIN_MIN:
            best = n_both / area
    return float(best)
