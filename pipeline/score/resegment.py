"""Expansion: did the product grow into the scene? A re-segmentation of the composite.

Independent of how the composite was made, pixels just outside the product are re-classified
by colour:

1. Band: crop pixels with ``alpha == 0`` within ``band_px`` of the hard mask.
2. Product colours: k-means centres (Lab) of the *reference* pixels 1..``EDGE_BAND_PX`` inside
   the mask (the product's own edge colours). Background colours: k-means centres of the
   *composite* pixels in the outer ring ``band_px < d <= 2*band_px`` (what the scene looks like
   near the product). If that ring is (nearly) empty, the plate's band pixels stand in.
3. A band pixel is product-like when its ΔE76 to the nearest product colour plus ``MARGIN_DE``
   is still below its ΔE76 to the nearest background colour, and it is not shadow-like.
   Shadow-like: for some background colour, the pixel is darker, its L* is at least 0.45 of
   that colour's L*, and its (a*, b*) lies within 8 ΔC*ab of it (the shared shadow predicate's
   ``EXPANSION`` preset, :mod:`pipeline.segment.shadow_predicate`).
4. Changed toward the product: when the expected composite (reference pasted on the plate with
   its alpha) is given, a pixel outside the hard mask within ``band_px`` whose composite colour
   moved more than ``CHANGED_DE`` from the expected one, toward the product (nearer a product
   colour than the expected colour is), is product-like too, shadow-like or not, and in the
   soft edge (0 < alpha < 0.5) as well: a plate has its shadows already, so a darker pixel that
   was not there is growth, not shadow.
5. Only product-like 8-connected components touching the 1-px dilation of the product's
   support (alpha > 0) count.

expansion = (|reseg ∪ mask| - |mask|) / |mask| = new product pixels outside the mask / mask area.

Limitation: a grey product on a lighter neutral backdrop looks like its own shadow, so growth
of such a product is not seen.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.score import pixels
from pipeline.score.color import srgb_to_lab
from pipeline.score.geometry import ProductGeometry
from pipeline.segment.shadow_predicate import EXPANSION, is_shadow

# --- Named constants (px: output pixels). Chosen on bench/gate_eval.py's expansion defects and
# clean composites (docs/gate.md): clean composites read 0 in exact mode, 2% growth 0.4-3%.
EDGE_BAND_PX = 6  # px: the product's edge colours are sampled this deep inside the mask
N_CLUSTERS = 6  # k-means colours per side (product edge, scene ring)
MAX_SAMPLES = 1024  # pixels sampled per k-means (speed; the colours converge well before)
KMEANS_ITERS = 8  # Lloyd iterations at most
MARGIN_DE = 10.0  # ΔE76: a band pixel must be this much nearer a product colour than a scene colour
SHADOW = EXPANSION  # the shared shadow predicate's preset for scene colours: L* at least 0.45 of the
# backdrop's, (a*, b*) within 8 ΔE76 (pipeline.segment.shadow_predicate)
CHANGED_DE = 5.0  # ΔE76: a pixel that moved more than this from the expected composite changed
_MIN_RING_PIXELS = 16  # scene-ring pixels needed to sample the scene's colours there


def _sample(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """At most ``MAX_SAMPLES`` rows of ``points``, a random subset when there are more."""
    if points.shape[0] <= MAX_SAMPLES:
        return points
    return points[rng.choice(points.shape[0], MAX_SAMPLES, replace=False)]


def kmeans_lab(points: np.ndarray, k: int, rng: np.random.Generator, iters: int = KMEANS_ITERS) -> np.ndarray:
    """Lloyd k-means with k-means++ seeding on ``(N, 3)`` points -> ``(<=k, 3)`` float32 centres.

    ``N == 0`` gives ``(0, 3)``. Deterministic for a given ``rng`` state.
    """
    planar = np.ascontiguousarray(np.asarray(points, dtype=np.float32).T)  # (3, N)
    n = planar.shape[1]
    if n == 0:
        return np.zeros((0, 3), dtype=np.float32)
    k = min(k, n)
    centres = [planar[:, rng.integers(n)]]
    d2 = _sq_dist_to(planar, centres[0]).astype(np.float64)
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0:
            break
        pick = planar[:, rng.choice(n, p=d2 / total)]
        centres.append(pick)
        np.minimum(d2, _sq_dist_to(planar, pick), out=d2)
    c = np.stack(centres)  # (K, 3)
    for _ in range(iters):
        labels = np.argmin(np.stack([_sq_dist_to(planar, cj) for cj in c]), axis=0)
        counts = np.bincount(labels, minlength=len(c))
        sums = np.stack([np.bincount(labels, weights=planar[ch], minlength=len(c)) for ch in range(3)], axis=1)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], c).astype(np.float32)
        converged = bool(np.all(np.abs(new - c) < 1e-3))
        c = new
        if converged:
            break
    return c


def _sq_dist_to(planar: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(3, N) planar Lab, (3,) colour -> (N,) squared Euclidean distances."""
    d = planar[0] - centre[0]
    out = d * d
    d = planar[1] - centre[1]
    out += d * d
    d = planar[2] - centre[2]
    out += d * d
    return out


def _min_dist(planar: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(3, N) planar Lab, (K, 3) colours -> (N,) ΔE76 to the nearest colour."""
    best = _sq_dist_to(planar, centres[0])
    for centre in centres[1:]:
        np.minimum(best, _sq_dist_to(planar, centre), out=best)
    return np.sqrt(best)


def _shadow_like(planar: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(3, N) planar Lab pixels, (K, 3) background colours -> (N,) bool (see module doc, step 3)."""
    L, a, b = planar
    out = np.zeros(L.shape, dtype=bool)
    for bl, ba, bb in background:
        out |= is_shadow(L, a, b, bl, ba, bb, SHADOW)
    return out


def expansion_mask(
    geom: ProductGeometry,
    reference_rgb: np.ndarray,
    composite: np.ndarray,
    plate: np.ndarray,
    band_px: int,
    seed: int = 0,
    expected: np.ndarray | None = None,
) -> np.ndarray:
    """Crop-sized HW bool: composite pixels outside the product that look like product.

    reference_rgb / composite / plate / expected (the reference pasted on the plate, optional):
    crop-sized HWC uint8 (``geom.crop`` of the full frames).
    """
    band = (geom.alpha == 0) & geom.ring_out(1.0, float(band_px))
    out = np.zeros_like(geom.mask)
    if not band.any():
        return out
    rng = np.random.default_rng(seed)

    # 1. Product colours from the reference's inner edge; background colours from the outer ring.
    inner = geom.ring_in(1.0, float(EDGE_BAND_PX))
    product_c = kmeans_lab(srgb_to_lab(_sample(pixels.gather(reference_rgb, inner), rng)), N_CLUSTERS, rng)
    ring = (geom.alpha == 0) & geom.ring_out(float(band_px) + 1e-3, 2.0 * band_px)
    ring_pixels = pixels.gather(composite, ring) if np.count_nonzero(ring) >= _MIN_RING_PIXELS else None
    if ring_pixels is None:
        ring_pixels = pixels.gather(plate, band)
    background_c = kmeans_lab(srgb_to_lab(_sample(ring_pixels, rng)), N_CLUSTERS, rng)
    if product_c.shape[0] == 0 or background_c.shape[0] == 0:
        return out

    # 2. Classify the band: closer to the product than to the scene, and not a shadow.
    planar = np.ascontiguousarray(srgb_to_lab(pixels.gather(composite, band)).T)  # (3, N)
    product_like = _min_dist(planar, product_c) + MARGIN_DE < _min_dist(planar, background_c)
    candidates = np.flatnonzero(product_like)
    product_like[candidates[_shadow_like(planar[:, candidates], background_c)]] = False
    out[band] = product_like
    if expected is not None:
        out |= _changed_toward_product(geom, composite, expected, product_c, band_px)
    if not out.any():
        return out

    # 3. Keep components that touch the product.
    n, labels = cv2.connectedComponents(out.view(np.uint8), connectivity=8)
    support = (geom.alpha > 0) | geom.mask
    touch = cv2.dilate(support.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    keep = np.zeros(n, dtype=bool)
    keep[labels[touch & out]] = True
    keep[0] = False
    return keep[labels]


def _changed_toward_product(geom: ProductGeometry, composite: np.ndarray, expected: np.ndarray,
                            product_c: np.ndarray, band_px: int) -> np.ndarray:
    """Crop-sized HW bool: pixels outside the hard mask (within ``band_px``) whose composite
    colour left the expected one by over ``CHANGED_DE`` ΔE76 and came nearer the product colours."""
    out = np.zeros_like(geom.mask)
    band = ~geom.mask & geom.ring_out(0.0, float(band_px))
    if not band.any():
        return out
    comp = np.ascontiguousarray(srgb_to_lab(pixels.gather(composite, band)).T)
    exp = np.ascontiguousarray(srgb_to_lab(pixels.gather(expected, band)).T)
    moved = np.sqrt(((comp - exp) ** 2).sum(axis=0)) > CHANGED_DE
    toward = _min_dist(comp, product_c) < _min_dist(exp, product_c)
    out[band] = moved & toward
    return out


def expansion_ratio(grown: np.ndarray, mask: np.ndarray) -> float:
    """(|grown ∪ mask| - |mask|) / |mask| for HW bool arrays (mask not empty)."""
    area = int(np.count_nonzero(mask))
    return float(np.count_nonzero(grown & ~mask)) / float(area)
