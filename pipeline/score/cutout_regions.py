"""Regions inside the cut-out that the outline signals cannot see: filled gaps and cut panels.

Both read a crop around the mask at half the cut-out signals' work size (``pipeline.score.cutout``;
the regions they look for are large, and this is 4x cheaper):
``lab`` (HWC float32 Lab of the crop), ``surface`` (the fitted backdrop surface's Lab over the
same crop), ``m8`` (HW uint8 0/1 mask), ``edges`` (HW bool Canny edges) and ``t_bg`` (ΔE76 under
which a colour is the backdrop's).

- :func:`backdrop_gap`: a see-through gap the segmenter filled (the backdrop seen under a
  chair's rail, inside a cable loop, between two tins) is, inside the mask, a region of the
  backdrop surface's colour with no edge in it. Share of the mask in such regions of at least
  ``GAP_MIN_PX`` pixels (and ``GAP_MIN_FRAC`` of the mask), ``GAP_DEPTH_PX`` or more inside the
  outline (the rim band is ``cutout_backdrop_in``'s) and off any edge by ``GAP_EDGE_TOL_PX``,
  whose median colour matches the surface within ``GAP_MATCH_DE`` (the backdrop itself; a white
  part of the product is shaded or tinted a little). A part whose colour is exactly the
  backdrop's (a mirror reflecting the sweep, a white clipped to 255 like the sweep) reads the
  same: that is this signal's known false alarm.
- :func:`panel_holes`: a white panel cut out as a hole (a carton's label, a printed white area)
  is an enclosed hole whose rim is mostly straight (``HOLE_STRAIGHT_MIN`` of it on segments of
  ``HOLE_SEG_MIN_PX`` and ``HOLE_SEG_FRAC`` of the hole's size or more, polygon tolerance
  ``HOLE_POLY_EPS_PX``) with print inside it (Canny edge density over ``HOLE_PRINT_MIN``). A
  see-through hole (a mug's handle, a strap's loop) has a curved rim or shows plain backdrop, a
  shadow or the floor. Share of the mask's area in such holes. A white panel without print cut
  out as a hole is not seen.
"""

from __future__ import annotations

import cv2
import numpy as np

# --- Named constants ("px": pixels at half the cut-out signals' work size, 512 long side at most).
# Chosen on the real photos' true masks in ../shared/products and on bench/gate_defects.py's
# injected defects; the clean values they give are in docs/gate.md.
GAP_DEPTH_PX = 1  # px: a gap pixel lies at least this deep inside the outline
GAP_EDGE_TOL_PX = 1  # px: ... and at least this far from any edge
GAP_MIN_PX = 8  # px²: the least gap region counted (smaller ones are specular glints)
GAP_MIN_FRAC = 0.0005  # share of the mask: ... and the least relative to the product
GAP_MATCH_DE = 1.0  # ΔE76: a gap's median colour is the backdrop surface's within this (under a
# just-noticeable difference). On the real photos, the filled gaps of real cut-outs (between two
# tins, inside headphones, between fitness bands) read 0.02-0.7; white product parts that pass the
# looser backdrop threshold (white bowls on a white sheet, white soles, a white camera, a drive's
# platter cover) read 1.1-4.8: shaded, they are a little darker or tinted.
HOLE_MIN_PX = 10  # px²: the least hole judged
HOLE_MIN_FRAC = 0.002  # share of the mask: ... and the least relative to the product
HOLE_POLY_EPS_PX = 1.0  # px: polygon tolerance of the hole's rim
HOLE_SEG_MIN_PX = 6.0  # px: a rim segment at least this long (and HOLE_SEG_FRAC of the hole's size) is straight
HOLE_SEG_FRAC = 0.5  # x sqrt(hole area) (a square's side is 1.0; a smooth curve's polygon segments are
# far shorter: at 0.2, a mug handle's D-shaped hole read 89% straight)
HOLE_STRAIGHT_MIN = 0.7  # share of the rim on straight segments: a cut panel
HOLE_INSET_PX = 1  # px: the hole's inside is judged this far from its rim
HOLE_PRINT_MIN = 0.08  # share of edge pixels inside: print (text on a label reads 0.15-0.2; the
# JPEG ringing and glints in a see-through hole of a generated mug 0.055)


def backdrop_gap(lab: np.ndarray, surface: np.ndarray, m8: np.ndarray, edges: np.ndarray, t_bg: float) -> float:
    """Share of the mask in backdrop-coloured, edge-free regions inside it (module docstring)."""
    area = int(np.count_nonzero(m8))
    if area == 0:
        return 0.0
    inner = cv2.erode(m8, _disc(GAP_DEPTH_PX), borderType=cv2.BORDER_REPLICATE).view(bool)
    near = cv2.dilate(edges.view(np.uint8), _disc(GAP_EDGE_TOL_PX)).view(bool)
    d = lab - surface
    de = np.sqrt(np.einsum("hwc,hwc->hw", d, d))
    cand = ((de < t_bg) & inner & ~near).view(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    total = 0
    for i in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= max(GAP_MIN_PX, GAP_MIN_FRAC * area)):
        if i == 0:
            continue
        x, y, bw, bh, size = (int(v) for v in stats[i])
        win = (slice(y, y + bh), slice(x, x + bw))
        if float(np.median(de[win][labels[win] == i])) <= GAP_MATCH_DE:
            total += size
    return float(total) / area


def panel_holes(m8: np.ndarray, edges: np.ndarray) -> float:
    """Share of the mask's area in enclosed, straight-rimmed holes with print inside (module
    docstring)."""
    area = int(np.count_nonzero(m8))
    h, w = m8.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(1 - m8, connectivity=4)
    total = 0
    for i in range(1, n):
        x, y, bw, bh, size = (int(v) for v in stats[i])
        if x == 0 or y == 0 or x + bw == w or y + bh == h:  # reaches the crop's border: not enclosed
            continue
        if size < max(HOLE_MIN_PX, HOLE_MIN_FRAC * area):
            continue
        win = (slice(y, y + bh), slice(x, x + bw))
        hole = (labels[win] == i).astype(np.uint8)
        if _straight_share(hole, size) < HOLE_STRAIGHT_MIN:
            continue
        inside = cv2.erode(hole, _disc(HOLE_INSET_PX)).view(bool)
        if not inside.any():
            continue
        if float(np.mean(edges[win][inside])) >= HOLE_PRINT_MIN:
            total += size
    return float(total) / area if area else 0.0


def _straight_share(hole: np.ndarray, size: int) -> float:
    """Share of a hole's (HW uint8 0/1) rim length on long straight segments of its polygon."""
    contours, _ = cv2.findContours(hole, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 0.0
    contour = max(contours, key=len)
    perimeter = cv2.arcLength(contour, True)
    poly = cv2.approxPolyDP(contour, HOLE_POLY_EPS_PX, True).reshape(-1, 2).astype(np.float32)
    if perimeter <= 0 or len(poly) < 3:
        return 0.0
    seg = np.linalg.norm(poly - np.roll(poly, -1, axis=0), axis=1)
    long_enough = max(HOLE_SEG_MIN_PX, HOLE_SEG_FRAC * float(np.sqrt(size)))
    return float(seg[seg >= long_enough].sum()) / perimeter


def _disc(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
