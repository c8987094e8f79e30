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
from pipeline.imaging import delta_e76, resize_long_side, rgb_to_lab
from pipeline.segment.background import (BackgroundModel, border_mask, border_noise, continues_backdrop,
                                         fit_background, shadow_like)
from pipeline.segment.matting import refine_alpha
from pipeline.segment.mirror import peel_mirror_image
from pipeline.segment.pockets import flood_from_border, narrow_pockets
from pipeline.segment.shadows import peel_shadows, trim_shadow_fringe
from pipeline.segment.work_scale import REFERENCE, WorkScale
from pipeline.types import Segmentation

log = logging.getLogger(__name__)

# Units: "ref px" are pixels at the reference work size (work_scale.REFERENCE_SIDE, 512 long side),
# scaled with the working size; ΔE76 and ΔL in CIE Lab (L 0..100). Chosen on the generated samples
# and the first 30 real photos (issues 1 and 7) unless said otherwise.
WEAK_DE_MIN = 2.2  # ΔE76: a pixel nearer the fitted backdrop than this is backdrop-coloured ...
WEAK_DE_NOISE = 3.5  # ... or nearer than this many times the backdrop's noise
STRICT_DE_MIN = 1.2  # ΔE76: an enclosed region this near the fitted backdrop (median) is a hole ...
STRICT_DE_NOISE = 1.5  # ... or this many times the backdrop's noise
EDGE_LOW_MIN = 6.0  # grey levels (0..255) per pixel: Canny's lowest low threshold ...
EDGE_LOW_NOISE = 8.0  # ... or this many times the backdrop noise (ΔE76 x 2.55 grey levels per ΔL)
EDGE_HIGH = 2.2  # Canny's high threshold, times its low one
EDGE_PRE_SIGMA = 0.7  # ref px: blur before Canny (3x3 at the reference size)
ABRUPT_SIGMA = 2.0  # ref px: the blur that tells a step from a ramp ...
ABRUPT_RATIO = 0.65  # ... blurred/raw slope below this: a step (outline), not a ramp (shadow)
FLAT_SLOPE = 0.1  # ΔL per ref px under which a grey region counts as flat
FLAT_MIN_AREA = 0.015  # share of the image: flat grey regions larger than this are product faces
FLOOD_PX = 7  # ref px: the backdrop floods in only through passages at least this wide
HOLE_WINDOW = 0.08  # share of the long side: the backdrop "around" a region is its box padded by this
HOLE_MIN_WINDOW_PX = 8  # ref px: ... and at least this much
HOLE_MIN_AREA = 0.0005  # share of the image: smaller enclosed regions are not judged as holes
HOLE_MIN_AROUND = 50  # ref px²: backdrop pixels needed in that window for the local test
HOLE_PRINT_MIN_PX = 12  # ref px²: a piece of print this large wholly inside an enclosed region makes it a
# panel (a small letter at 512 px; JPEG ringing and sensor noise come in specks of a few pixels)
PRINT_DE_MIN = 10.0  # ΔE76 to the backdrop over which a pixel counts as print ...
PRINT_DE_WEAK = 2.0  # ... and over this many times the backdrop threshold (a textured cloth's folds are not)
OPEN_PX = 3  # ref px: the mask is opened with a square this wide (drops 1 px spurs)
SPECK_OF_LARGEST = 0.25  # a part at least this share of the largest part is kept, however small


def lightness_slope(light: np.ndarray, scale: WorkScale, sigma: float = 0.0) -> np.ndarray:
    """HW float32: |∇L| in ΔL per reference pixel of ``light`` (HW float32 L 0..100 at the work size).

    ``sigma`` (ref px) blurs first. Above the reference size the image is also blurred as much as
    area-resampling to the reference size would (sigma 0.5 sqrt(f² - 1) work px), so pixel noise and
    texture measure the same at every work size, and the slope is multiplied by the scale factor.
    """
    s = float(np.hypot(scale.sigma(sigma), 0.5 * np.sqrt(max(scale.factor ** 2 - 1.0, 0.0))))
    if s > 0:
        light = cv2.GaussianBlur(light, (0, 0), s)
    gx = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy) * np.float32(scale.factor / 8.0)


def _sharp_edges(lab: np.ndarray, grad: np.ndarray, border: np.ndarray,
                 scale: WorkScale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges, abrupt, slope): Canny edges of lightness, where a step is abrupt, blurred slope
    (ΔL per ref px; ``grad`` too).

    Thresholds follow the border's gradient noise, so faint outlines of white parts are found; above
    the reference size Canny sees the image blurred in proportion, so its thresholds are per ref px
    too. Abruptness: blurring (``ABRUPT_SIGMA``) keeps a ramp's slope but flattens a step's, so a
    step has ``grad(blurred) / grad`` well under 1.
    """
    light = lab[..., 0]
    noise = float(np.median(grad[border])) + 1e-3
    low = max(EDGE_LOW_MIN, EDGE_LOW_NOISE * 2.55 * noise)
    k = scale.odd(3)
    gray = cv2.GaussianBlur(np.clip(light * 2.55, 0, 255).astype(np.uint8), (k, k), scale.sigma(EDGE_PRE_SIGMA))
    edges = cv2.Canny(gray, low, EDGE_HIGH * low, L2gradient=True) > 0
    slope = lightness_slope(light, scale, ABRUPT_SIGMA)
    abrupt = slope < ABRUPT_RATIO * (cv2.dilate(grad, np.ones((k, k), np.uint8)) + 1e-3)
    return edges, abrupt, slope


def _large_flat(candidates: np.ndarray, slope: np.ndarray, min_area: float) -> np.ndarray:
    """HW bool: big regions of constant grey (a box's shaded face); a shadow always fades."""
    flat = candidates & (slope < FLAT_SLOPE)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(flat.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] > min_area
    big[0] = False
    return big[labels]


def _open_holes(mask: np.ndarray, passable: np.ndarray, lab: np.ndarray, dist: np.ndarray, strict: float,
                grad: np.ndarray, backdrop: np.ndarray, scale: WorkScale = REFERENCE,
                printed: np.ndarray | None = None) -> np.ndarray:
    """Clear enclosed open regions that continue the backdrop surface (real holes).

    A region that encloses print (a piece of ``printed`` pixels, HW bool: clearly not backdrop nor
    shadow, of ``HOLE_PRINT_MIN_PX`` or more, wholly inside it) is a panel of the product, never a
    hole: a see-through gap shows the backdrop, and nothing floats in it. Otherwise a region is a
    hole when its median ΔE76 to the fitted backdrop
    (``dist``) is under ``strict``, or when it continues the ``backdrop`` pixels (HW bool) seen in a
    window around it (same colour, no more texture: ``background.continues_backdrop``), taken at the
    region's own rows where there are enough of them: a gap shows the backdrop at its own height,
    and sweeps, light pools and vignettes grade with height. The local test catches a see-through
    gap where the surface fit is a little off; a white part is shaded or textured.
    """
    enclosed = passable & mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(enclosed.astype(np.uint8), connectivity=4)
    if n <= 1:
        return mask
    h, w = mask.shape
    pad = max(scale.px(HOLE_MIN_WINDOW_PX), int(HOLE_WINDOW * max(h, w)))
    hole = np.zeros(n, bool)
    for i in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] > HOLE_MIN_AREA * mask.size):
        if not i:
            continue
        x, y, bw, bh = stats[i, :4]
        win = (slice(max(0, y - pad), min(h, y + bh + pad)), slice(max(0, x - pad), min(w, x + bw + pad)))
        region = labels[win] == i
        if printed is not None and _encloses(region, printed[win], scale.area(HOLE_PRINT_MIN_PX)):
            continue
        if float(np.median(dist[win][region])) < strict:
            hole[i] = True
            continue
        around = backdrop[win].copy()
        level = np.zeros_like(around)  # the backdrop beside the region, at its own height
        level[y - win[0].start:y - win[0].start + bh] = True
        if (around & level).sum() >= scale.area(HOLE_MIN_AROUND):
            around &= level
        if around.sum() < scale.area(HOLE_MIN_AROUND):
            continue
        hole[i] = continues_backdrop(lab[win], grad[win], region, around)
    return mask & ~hole[labels]


def _encloses(region: np.ndarray, printed: np.ndarray, min_px: float) -> bool:
    """True when a connected piece of ``printed`` pixels (hw bool) of at least ``min_px`` lies
    wholly inside ``region`` (hw bool): in the parts of its filled outline it does not cover."""
    h, w = region.shape
    outside = np.ones((h + 2, w + 2), np.uint8)
    outside[1:-1, 1:-1] = ~region
    cv2.floodFill(outside, None, (0, 0), 2)
    inside = (outside[1:-1, 1:-1] == 1) & printed  # not the region, not reachable from outside it
    if np.count_nonzero(inside) < min_px:
        return False
    _, _, stats, _ = cv2.connectedComponentsWithStats(inside.astype(np.uint8), connectivity=8)
    return bool(stats[1:, cv2.CC_STAT_AREA].max() >= min_px)


def _reference_noise(lab: np.ndarray, bg: BackgroundModel, scale: WorkScale) -> float:
    """The backdrop noise a region's median is compared with: as measured at the reference size
    (above it the work copy is blurred as much as area-resampling to the reference would, so pixel
    noise counts as it did where the constants were chosen)."""
    if scale.factor == 1.0:
        return bg.noise
    sigma = 0.5 * float(np.sqrt(scale.factor ** 2 - 1.0))
    return border_noise(cv2.GaussianBlur(lab, (0, 0), sigma), bg)


def _drop_specks(mask: np.ndarray, min_frac: float) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    areas[0] = 0
    largest = areas.max()
    keep = (areas >= min_frac * mask.size) | (areas >= SPECK_OF_LARGEST * largest)
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

    def coarse_mask(self, lab: np.ndarray, bg: BackgroundModel,
                    trace: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Steps 3-6 at the work resolution. Returns (mask HW bool, ΔE76-to-background HW float32).

        trace: when a dict, the mask after each step is stored in it under the step's name
        (``barrier``, ``flood``, ``pockets``, ``holes``, ``peel``, ``mirror``, ``fringe``, ``final``), for
        debugging and contact sheets.
        """
        cfg = self.config
        scale = WorkScale.of(lab.shape)
        dist = delta_e76(lab, bg.lab)
        t_weak = cfg.threshold or max(WEAK_DE_MIN, WEAK_DE_NOISE * bg.noise)
        shadow = shadow_like(lab, bg.lab)
        grad = lightness_slope(lab[..., 0], scale)  # ΔL per ref px
        border = border_mask(*dist.shape)
        edges, abrupt, slope = _sharp_edges(lab, grad, border, scale)
        grey = (dist > t_weak) & shadow
        barrier = ((dist > t_weak) & ~shadow) | (edges & (~shadow | abrupt))
        barrier |= _large_flat(grey, slope, FLAT_MIN_AREA * dist.size)
        passable = ~barrier
        reach = flood_from_border(passable, border, scale.px(FLOOD_PX))
        steps = {"barrier": barrier, "flood": ~reach}
        mask = steps["pockets"] = ~reach | narrow_pockets(reach, passable, border, dist, t_weak, scale)
        strict = max(STRICT_DE_MIN, STRICT_DE_NOISE * _reference_noise(lab, bg, scale))
        printed = (dist > max(PRINT_DE_MIN, PRINT_DE_WEAK * t_weak)) & ~shadow  # ink, a logo: clearly not backdrop
        mask = steps["holes"] = _open_holes(mask, passable, lab, dist, strict, grad, ~mask & (dist <= t_weak), scale,
                                            printed)
        mask = steps["peel"] = peel_shadows(lab, bg.lab, mask, grad, ~mask & (dist <= t_weak), scale)
        mask = steps["mirror"] = peel_mirror_image(lab, bg.lab, mask, scale)
        mask = steps["fringe"] = trim_shadow_fringe(lab, bg.lab, mask, scale)
        k = scale.px(OPEN_PX)
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((k, k), np.uint8)).astype(bool)
        mask = steps["final"] = _drop_specks(mask, cfg.min_component_frac)
        if trace is not None:
            trace.update(steps)
        return mask, dist


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{getattr(rgb, 'dtype', type(rgb).__name__)} {getattr(rgb, 'shape', '')}"
        raise ValueError(f"rgb must be an HWC uint8 array with 3 channels, got {got}")
    if min(rgb.shape[:2]) < 8:
        raise ValueError(f"rgb must be at least 8x8 pixels, got {rgb.shape[1]}x{rgb.shape[0]}")
