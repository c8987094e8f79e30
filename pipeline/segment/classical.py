"""Classical white-background segmenter: no weights, tens of milliseconds per megapixel.

Steps (``ClassicalSegmenter.__call__``):
 1. work copy at ``work_side`` long side, converted to Lab;
 2. fit the background surface from the border (off-white and graded sweeps work);
 3. barriers: pixels clearly unlike the backdrop, plus sharp outlines (Canny edges whose step
    is abrupt, so that a faint white-on-white outline counts and a shadow's soft ramp does not),
    plus large flat grey faces;
 4. flood the backdrop in from the frame through everything else (shadows included), through a
    thinned passage so one-pixel gaps in an outline cannot leak into a white product;
 5. what the flood cannot reach is the product, plus pockets it entered only through a narrow
    gap that rest on the product (a mug's white inside: ``pockets``), except enclosed regions
    that continue the backdrop (mug handles, straps);
 6. shadows and floor reflections left in the mask are peeled off, and thin contact-shadow
    strips along the outline trimmed (``shadows``);
 7. small specks dropped; full-resolution soft alpha + decontaminated colours at the edge.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from pipeline.config import SegmentConfig
from pipeline.errors import SegmentationError
from pipeline.imaging import resize_long_side, rgb_to_lab
from pipeline.segment.background import (BackgroundModel, border_mask, continues_backdrop, fit_background,
                                         shadow_like)
from pipeline.segment.matting import refine_alpha
from pipeline.segment.pockets import flood_from_border, narrow_pockets
from pipeline.segment.shadows import peel_shadows, trim_shadow_fringe
from pipeline.types import Segmentation

log = logging.getLogger(__name__)

ABRUPT_RATIO = 0.65  # blurred/raw slope below this: a step (outline), not a ramp (shadow)
FLAT_SLOPE = 0.1  # ΔL per pixel under which a grey region counts as flat
FLAT_MIN_AREA = 0.015  # flat grey regions larger than this share of the image are product faces
FLOOD_PX = 7  # the backdrop floods in only through passages at least this wide
HOLE_WINDOW = 0.08  # the backdrop "around" a region: its box padded by this share of the long side
HOLE_MIN_AROUND = 50  # backdrop pixels needed in that window for the local test


def _sharp_edges(lab: np.ndarray, grad: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges, abrupt, slope): Canny edges of lightness, where a step is abrupt, blurred slope.

    Thresholds follow the border's gradient noise, so faint outlines of white parts are found.
    Abruptness: blurring (sigma 2) keeps a ramp's slope but flattens a step's, so a step has
    ``grad(blurred) / grad`` well under 1.
    """
    light = lab[..., 0]
    noise = float(np.median(grad[border])) + 1e-3
    low = max(6.0, 8.0 * 2.55 * noise)
    gray = cv2.GaussianBlur(np.clip(light * 2.55, 0, 255).astype(np.uint8), (3, 3), 0.7)
    edges = cv2.Canny(gray, low, 2.2 * low, L2gradient=True) > 0
    blurred = cv2.GaussianBlur(light, (0, 0), 2.0)
    slope = cv2.magnitude(cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3),
                          cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    abrupt = slope < ABRUPT_RATIO * (cv2.dilate(grad, np.ones((3, 3), np.uint8)) + 1e-3)
    return edges, abrupt, slope


def _large_flat(candidates: np.ndarray, slope: np.ndarray, min_area: float) -> np.ndarray:
    """HW bool: big regions of constant grey (a box's shaded face); a shadow always fades."""
    flat = candidates & (slope < FLAT_SLOPE)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(flat.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] > min_area
    big[0] = False
    return big[labels]


def _open_holes(mask: np.ndarray, passable: np.ndarray, lab: np.ndarray, dist: np.ndarray, strict: float,
                grad: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """Clear enclosed open regions that continue the backdrop surface (real holes).

    A region is a hole when its median ΔE76 to the fitted backdrop (``dist``) is under ``strict``,
    or when it continues the ``backdrop`` pixels (HW bool) seen in a window around it (same colour,
    no more texture: ``background.continues_backdrop``). The local test catches a see-through gap
    where the surface fit is a little off; a white part is shaded or textured.
    """
    enclosed = passable & mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(enclosed.astype(np.uint8), connectivity=4)
    if n <= 1:
        return mask
    h, w = mask.shape
    pad = max(8, int(HOLE_WINDOW * max(h, w)))
    hole = np.zeros(n, bool)
    for i in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] > 0.0005 * mask.size):
        if not i:
            continue
        x, y, bw, bh = stats[i, :4]
        win = (slice(max(0, y - pad), min(h, y + bh + pad)), slice(max(0, x - pad), min(w, x + bw + pad)))
        region = labels[win] == i
        if float(np.median(dist[win][region])) < strict:
            hole[i] = True
            continue
        around = backdrop[win]
        if around.sum() < HOLE_MIN_AROUND:
            continue
        hole[i] = continues_backdrop(lab[win], grad[win], region, around)
    return mask & ~hole[labels]


def _drop_specks(mask: np.ndarray, min_frac: float) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    areas[0] = 0
    largest = areas.max()
    keep = (areas >= min_frac * mask.size) | (areas >= 0.25 * largest)
    keep[0] = False
    return keep[labels]


class ClassicalSegmenter:
    """White/off-white background segmenter. ``__call__(rgb HWC uint8) -> Segmentation``."""

    name = "classical"

    def __init__(self, config: SegmentConfig | None = None):
        self.config = config or SegmentConfig()

    def __call__(self, rgb: np.ndarray) -> Segmentation:
        _check_rgb(rgb)
        small, scale = resize_long_side(rgb, self.config.work_side)
        lab = rgb_to_lab(small)
        bg = fit_background(lab, small)
        mask_small, dist = self.coarse_mask(lab, bg)
        if not mask_small.any():
            raise SegmentationError("no product found: the image looks like plain background")
        alpha, foreground = refine_alpha(rgb, mask_small, small, bg.rgb)
        mask = alpha >= 0.5
        if not mask.any():
            raise SegmentationError("no product found after edge refinement")
        info = {"work_scale": round(scale, 4), "bg_noise": round(bg.noise, 3),
                "border_bg_fraction": round(bg.border_bg_fraction, 3)}
        return Segmentation(alpha=alpha, mask=mask, foreground=foreground,
                            background_rgb=bg.rgb, backend=self.name, info=info)

    def coarse_mask(self, lab: np.ndarray, bg: BackgroundModel) -> tuple[np.ndarray, np.ndarray]:
        """Steps 3-5 at the work resolution. Returns (mask HW bool, ΔE76-to-background HW float32)."""
        cfg = self.config
        dist = np.linalg.norm(lab - bg.lab, axis=2)
        t_weak = cfg.threshold or max(2.2, 3.5 * bg.noise)
        shadow = shadow_like(lab, bg.lab)
        grad = cv2.magnitude(cv2.Sobel(lab[..., 0], cv2.CV_32F, 1, 0, ksize=3),
                             cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1, ksize=3)) / 8.0  # ΔL per pixel
        border = border_mask(*dist.shape)
        edges, abrupt, slope = _sharp_edges(lab, grad, border)
        grey = (dist > t_weak) & shadow
        barrier = ((dist > t_weak) & ~shadow) | (edges & (~shadow | abrupt))
        barrier |= _large_flat(grey, slope, FLAT_MIN_AREA * dist.size)
        passable = ~barrier
        reach = flood_from_border(passable, border, FLOOD_PX)
        mask = ~reach | narrow_pockets(reach, passable, border, dist, t_weak)
        mask = _open_holes(mask, passable, lab, dist, max(1.2, 1.5 * bg.noise), grad, ~mask & (dist <= t_weak))
        mask = peel_shadows(lab, bg.lab, mask, grad, ~mask & (dist <= t_weak))
        mask = trim_shadow_fringe(lab, bg.lab, mask)
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
        mask = _drop_specks(mask, cfg.min_component_frac)
        return mask, dist


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{getattr(rgb, 'dtype', type(rgb).__name__)} {getattr(rgb, 'shape', '')}"
        raise ValueError(f"rgb must be an HWC uint8 array with 3 channels, got {got}")
    if min(rgb.shape[:2]) < 8:
        raise ValueError(f"rgb must be at least 8x8 pixels, got {rgb.shape[1]}x{rgb.shape[0]}")
