"""Scene checks: is the frame around the product a plausible scene? Cheap, no weights.

A diffusion backend can return garbage (a black or flat frame, coloured noise, a second product,
a backdrop in the wrong colours, a product hanging in the air). Each check reads the composite
outside the product, on a copy whose long side is at most ``WORK_SIDE``:

- ``scene_lightness``: median L* (0..100) of the backdrop: a black frame reads ~0.
- ``scene_detail``: p99 - p1 of the backdrop's L* after a sigma-1 blur: a flat frame reads ~0
  (a studio sweep has its gradient, vignette and shadows).
- ``scene_noise``: median absolute difference (grey level on L*'s 0..100 scale) between the
  backdrop and its 3x3 blur, on a subsampled grid (no averaging, so pixel noise survives):
  grain reads < 1, noise > 10.
- ``scene_blotch``: the same residual in colour (ΔE76 between each pixel's Lab and its 3x3 mean)
  on copies of ``WORK_SIDE`` / 2^k long side (``BLOTCH_LEVELS``); the largest of their medians
  over the backdrop. Blotchy, upscaled colour noise (what a diffusion model with broken weights
  paints) is smooth pixel to pixel, so ``scene_noise`` misses it, but it is noise at a coarser
  scale; a studio sweep, marble or wood is smooth or sparsely veined at every scale.
- ``scene_extra_object``: the largest region of the backdrop unlike its own row (ΔE76 over
  ``OBJECT_DE`` to the row's mean colour, ``OBJECT_OPEN`` opened), as a share of the frame:
  a second product painted in. Backdrops vary top to bottom (wall, floor) but little along a row.
- ``scene_palette_de``: ΔE76 from the backdrop's median Lab colour to the theme's palette (the
  nearest point on the segments between any two theme colours); None without a palette.
- ``scene_contact``: darkening of the floor just under the product's footprint, at full
  resolution: 1 - median L* of the strip under it / median L* of the floor box around it. None when
  the base is above the horizon or too near the frame's bottom. A product standing on the
  floor darkens it where it touches; a floating one does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.imaging import rgb_to_lab
from pipeline.score.inputs import check_image_and_mask

# --- Named constants. Limits are GateConfig's; these say where and how each check looks. Chosen
# on the clean composites and the broken frames of bench/gate_eval.py (docs/gate.md).
WORK_SIDE = 256  # px: long side of the copy most checks read (a scene's defects are large)
MIN_WORK_PX = 8  # px: the least side of that copy
PRODUCT_PAD = 3  # px at WORK_SIDE kept clear around the product
MIN_BACKDROP_PX = 64  # backdrop pixels needed; fewer: the whole frame is read
DETAIL_SIGMA = 1.0  # px at WORK_SIDE: blur before the L* range (grain does not count as detail)
DETAIL_PERCENTILES = (1.0, 99.0)  # the L* range is between these percentiles
NOISE_SAMPLE_K = 2  # scene_noise samples every n-th pixel so the sample is NOISE_SAMPLE_K x WORK_SIDE long
NOISE_PAD_PX = 2  # px (sampled grid) kept clear around the product for scene_noise
BLOTCH_LEVELS = 3  # scene_blotch reads copies of WORK_SIDE, WORK_SIDE/2, WORK_SIDE/4 long side
GREY_TO_L = 100.0 / 255.0  # grey level 0..255 -> L*-like 0..100
OBJECT_DE = 15.0  # ΔE76: a backdrop pixel this far from its row's mean colour is foreign
OBJECT_OPEN = 3  # px at WORK_SIDE: opening that drops thin lines (veins, seams) from the foreign map
OBJECT_MIN_ROW_FRAC = 8  # a row needs 1/this of its width free of product to give its mean colour
OBJECT_MIN_ROW_PX = 4  # ... and at least this many pixels
CONTACT_BAND = 0.02  # of the product height: the strip just under the footprint
FLOOR_BAND = 0.12  # of the product height: the floor box under and around the footprint
FOOT = 0.02  # of the product height: the lowest rows, whose columns are the footprint
MIN_PRODUCT_ROWS = 8  # rows: the least product height the contact strips are sized from
CONTACT_STRIP_MIN = 2  # rows: the least strip under the footprint
FOOT_PAD_FRAC = 4  # the floor box reaches 1/this of the footprint's width past each side
CONTACT_MIN_UNDER = 4  # pixels under the footprint needed to judge contact
CONTACT_MIN_AROUND = 16  # floor pixels around it needed
L_FLOOR = 1.0  # L*: the least floor lightness divided by (a black floor)


@dataclass(frozen=True)
class SceneSignals:
    """See the module docstring; ``palette_de`` and ``contact`` may be None (not applicable)."""

    lightness: float
    detail: float
    noise: float
    extra_object: float
    palette_de: float | None
    contact: float | None
    blotch: float = 0.0

    def as_metrics(self) -> dict[str, float | None]:
        return {"scene_lightness": self.lightness, "scene_detail": self.detail, "scene_noise": self.noise, "scene_blotch": self.blotch,
                "scene_extra_object": self.extra_object, "scene_palette_de": self.palette_de,
                "scene_contact": self.contact}


def scene_signals(
    composite: np.ndarray,
    mask: np.ndarray,
    horizon_y: int | None = None,
    palette: Sequence[tuple[int, int, int]] | None = None,
) -> SceneSignals:
    """Checks of ``composite`` (HWC uint8) around the product ``mask`` (HW bool, same HW).

    horizon_y: the floor line in output pixels (the contact check runs when the base is at or
    below it; None: never). palette: the theme's ``#rrggbb`` colours as RGB tuples, or None.
    Raises ``ValueError`` naming the argument on a wrong shape or dtype.
    """
    check_image_and_mask(composite, mask, "composite")
    h, w = mask.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    size = (max(MIN_WORK_PX, round(w * scale)), max(MIN_WORK_PX, round(h * scale)))
    small = cv2.resize(composite, size, interpolation=cv2.INTER_AREA)
    product = cv2.resize(mask.view(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
    product = cv2.dilate(product.view(np.uint8), np.ones((2 * PRODUCT_PAD + 1,) * 2, np.uint8)).view(bool)
    backdrop = ~product
    if np.count_nonzero(backdrop) < MIN_BACKDROP_PX:
        backdrop = np.ones_like(product)
    lab = rgb_to_lab(small)
    light = lab[..., 0]
    bg_light = light[backdrop]
    lightness = float(np.median(bg_light))
    blurred = cv2.GaussianBlur(light, (0, 0), DETAIL_SIGMA)[backdrop]
    p1, p99 = np.percentile(blurred, DETAIL_PERCENTILES)
    return SceneSignals(
        lightness=lightness,
        detail=float(p99 - p1),
        noise=_noise(composite, mask),
        extra_object=_extra_object(lab, backdrop),
        palette_de=None if not palette else _palette_distance(np.median(lab[backdrop], axis=0), palette),
        contact=None if horizon_y is None else _contact(composite, mask, horizon_y),
        blotch=_blotch(lab, backdrop),
    )


def _blotch(lab: np.ndarray, backdrop: np.ndarray) -> float:
    """The largest, over ``BLOTCH_LEVELS`` halvings of ``lab`` (HWC float32 Lab at WORK_SIDE), of
    the median ΔE76 between a backdrop pixel and its 3x3 mean; ``backdrop``: HW bool."""
    worst = 0.0
    free = backdrop.astype(np.float32)
    for level in range(BLOTCH_LEVELS):
        if level:
            size = (max(MIN_WORK_PX, lab.shape[1] // 2), max(MIN_WORK_PX, lab.shape[0] // 2))
            lab = cv2.resize(lab, size, interpolation=cv2.INTER_AREA)
            free = cv2.resize(free, size, interpolation=cv2.INTER_AREA)
        d = lab - cv2.blur(lab, (3, 3))
        resid = np.sqrt(np.einsum("hwc,hwc->hw", d, d))
        keep = cv2.erode((free >= 1.0).astype(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
        if np.count_nonzero(keep) >= MIN_BACKDROP_PX:
            worst = max(worst, float(np.median(resid[keep])))
    return worst


def _noise(composite: np.ndarray, mask: np.ndarray) -> float:
    """Median |Y - blur3x3(Y)| (Y: grey level scaled to 0..100, close to L*) over the backdrop,
    on every n-th row and column so that the sample is about ``2 * WORK_SIDE`` on its long side
    (no averaging: pixel noise survives)."""
    step = max(1, max(composite.shape[:2]) // (NOISE_SAMPLE_K * WORK_SIDE))
    sub = np.ascontiguousarray(composite[::step, ::step])
    grey = cv2.cvtColor(sub, cv2.COLOR_RGB2GRAY).astype(np.float32) * GREY_TO_L
    resid = np.abs(grey - cv2.blur(grey, (3, 3)))
    pad = np.ones((2 * NOISE_PAD_PX + 1,) * 2, np.uint8)
    keep = ~cv2.dilate(np.ascontiguousarray(mask[::step, ::step]).view(np.uint8), pad).view(bool)
    vals = resid[keep]
    return float(np.median(vals)) if vals.size else 0.0


def _extra_object(lab: np.ndarray, backdrop: np.ndarray) -> float:
    """Largest connected region of the backdrop far from its row's mean colour / frame area.

    Rows mostly covered by the product borrow the nearest well-covered row's colour."""
    h, w = backdrop.shape
    weight = backdrop.astype(np.float32)
    count = weight.sum(axis=1)
    have = count >= max(OBJECT_MIN_ROW_PX, w // OBJECT_MIN_ROW_FRAC)
    if not have.any():
        return 0.0
    rows = np.einsum("hwc,hw->hc", lab, weight) / np.maximum(count, 1.0)[:, None]
    idx = np.flatnonzero(have)
    for c in range(3):
        rows[:, c] = np.interp(np.arange(h), idx, rows[idx, c])
    d = lab - rows[:, None, :]
    diff2 = np.einsum("hwc,hwc->hw", d, d)
    far = ((diff2 > OBJECT_DE**2) & backdrop).view(np.uint8)
    far = cv2.morphologyEx(far, cv2.MORPH_OPEN, np.ones((OBJECT_OPEN, OBJECT_OPEN), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(far, connectivity=8)
    if n <= 1:
        return 0.0
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / float(h * w)


def _palette_distance(colour_lab: np.ndarray, palette: Sequence[tuple[int, int, int]]) -> float:
    """ΔE76 from one Lab colour to the nearest point of the segments joining the palette colours."""
    pal = rgb_to_lab(np.asarray(palette, np.uint8).reshape(1, -1, 3))[0].astype(np.float64)
    c = np.asarray(colour_lab, np.float64)
    best = float(np.min(np.linalg.norm(pal - c, axis=1)))
    for i in range(len(pal)):
        for j in range(i + 1, len(pal)):
            a, b = pal[i], pal[j]
            t = float(np.clip(np.dot(c - a, b - a) / max(float(np.dot(b - a, b - a)), 1e-9), 0.0, 1.0))
            best = min(best, float(np.linalg.norm(a + t * (b - a) - c)))
    return best


def _contact(composite: np.ndarray, mask: np.ndarray, horizon_y: int) -> float | None:
    """1 - median L*(the strip just under the footprint) / median L*(the floor box around it).

    The footprint: the columns where the mask reaches its lowest ``FOOT`` of the height; the
    strip is the ``CONTACT_BAND`` rows just under each such column's lowest mask pixel (so an
    arched base, a cap's brim or a chair's legs, is judged where it touches, not under the arch).
    None when the base is above ``horizon_y`` or there is no floor below it in the frame.
    """
    ys = np.flatnonzero(mask.any(axis=1))
    top, base = int(ys[0]), int(ys[-1])
    height = max(base - top + 1, MIN_PRODUCT_ROWS)
    h, w = mask.shape
    strip = max(CONTACT_STRIP_MIN, round(CONTACT_BAND * height))
    floor_rows = round(FLOOR_BAND * height)
    if base < horizon_y or base + floor_rows >= h:
        return None
    y_lo = max(0, base - round(FOOT * height))
    band = mask[y_lo : base + 1]
    foot = np.flatnonzero(band.any(axis=0))
    x0, x1 = int(foot[0]), int(foot[-1]) + 1
    pad = (x1 - x0) // FOOT_PAD_FRAC
    fx0, fx1 = max(0, x0 - pad), min(w, x1 + pad)
    box = (slice(y_lo, base + 1 + floor_rows), slice(fx0, fx1))
    light = rgb_to_lab(composite[box])[..., 0]
    free = ~mask[box]
    # Rows (in the box) of each footprint column's lowest mask pixel, then the strip under it.
    lowest = band.shape[0] - 1 - np.argmax(band[::-1, foot], axis=0)
    rows = np.arange(light.shape[0])[:, None]
    under_box = np.zeros_like(free)
    under_box[:, foot - fx0] = (rows > lowest[None]) & (rows <= lowest[None] + strip)
    under = light[under_box & free]
    around_box = free.copy()
    around_box[: base + 1 - y_lo] = False
    around = light[around_box]
    if under.size < CONTACT_MIN_UNDER or around.size < CONTACT_MIN_AROUND:
        return None
    return float(1.0 - np.median(under) / max(float(np.median(around)), L_FLOOR))
