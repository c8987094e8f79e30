"""Background model for studio photos: a smooth colour surface fitted to the image border.

Studio sweeps are rarely a flat 255: they are off-white, grey, or graded top to bottom. We fit a
quadratic surface per Lab channel to the border pixels that look like background (a robust
first pass drops border pixels covered by a product that touches the frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.imaging import delta_e76
from pipeline.segment.shadow_predicate import FLOOD, is_shadow_lab

# Units: "ref px" are pixels at the reference work size (work_scale.REFERENCE_SIDE, 512 long side).
BORDER_FRAC = 0.02  # share of the short side: the frame ring the backdrop is fitted on (issue 1, samples)
SURFACE_GRID = 8  # the quadratic surface is evaluated on a grid this many times coarser (exact up to bilinear error)
FIRST_PASS_DE = 12.0  # ΔE76 to the border median under which a border pixel is surely backdrop ...
FIRST_PASS_K = 3.0  # ... or within this many times the median distance (products touching the frame)
OUTLIER_MADS = 6.0  # second pass: residuals beyond median + this many (normal-scaled) MADs + 1 ΔE are dropped
MIN_FIT_PIXELS = 16  # fewer kept border pixels than this: fit them all (a frame-filling product)


@dataclass(frozen=True)
class BackgroundModel:
    """lab: HWC float32 Lab background at the work resolution; rgb: median border colour 0..255;
    noise: robust std of ΔE76 between border pixels and the fitted surface."""

    lab: np.ndarray
    rgb: tuple[float, float, float]
    noise: float
    border_bg_fraction: float


def border_mask(h: int, w: int) -> np.ndarray:
    """HW bool: the frame's outer ring, ``BORDER_FRAC`` of the short side (at least 2 px) wide."""
    b = max(2, int(round(min(h, w) * BORDER_FRAC)))
    mask = np.zeros((h, w), bool)
    mask[:b] = mask[-b:] = True
    mask[:, :b] = mask[:, -b:] = True
    return mask


def _border_indices(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.nonzero(border_mask(h, w))


def _design(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> np.ndarray:
    y = ys.astype(np.float32) / max(h - 1, 1) - 0.5
    x = xs.astype(np.float32) / max(w - 1, 1) - 0.5
    return np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], axis=1)


def _surface(coef: np.ndarray, h: int, w: int) -> np.ndarray:
    """Evaluate the quadratic surface on the full grid (HWC float32).

    A quadratic is smooth, so it is evaluated on a grid 8x coarser and resized bilinearly.
    """
    gh, gw = max(2, h // SURFACE_GRID), max(2, w // SURFACE_GRID)
    y = (np.linspace(0, 1, gh, dtype=np.float32) - 0.5)[:, None, None]
    x = (np.linspace(0, 1, gw, dtype=np.float32) - 0.5)[None, :, None]
    c = coef.astype(np.float32)
    coarse = c[0] + c[1] * x + c[2] * y + c[3] * (x * y) + c[4] * (x * x) + c[5] * (y * y)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)


def _fit(ys: np.ndarray, xs: np.ndarray, samples: np.ndarray, h: int, w: int) -> np.ndarray:
    """6 x 3 float32: the quadratic surface's coefficients, least squares through ``samples``."""
    coef, *_ = np.linalg.lstsq(_design(ys, xs, h, w), samples, rcond=None)
    return coef


def fit_background(lab: np.ndarray, rgb: np.ndarray) -> BackgroundModel:
    """Fit the background surface.

    lab: HWC float32 Lab (L in 0..100). rgb: HWC uint8, same HW.
    Returns a :class:`BackgroundModel` whose ``lab`` has the same shape as ``lab``.
    """
    h, w = lab.shape[:2]
    ys, xs = _border_indices(h, w)
    samples = lab[ys, xs]
    median = np.median(samples, axis=0)
    # Robust first pass: border pixels far from the median are product touching the frame.
    dist = delta_e76(samples, median)
    keep = dist < max(FIRST_PASS_DE, float(np.percentile(dist, 50)) * FIRST_PASS_K)
    if keep.sum() < MIN_FIT_PIXELS:
        keep = np.ones_like(keep)
    coef = _fit(ys[keep], xs[keep], samples[keep], h, w)
    # Second pass against the fitted surface drops residual outliers (shadows on the border).
    design_all = _design(ys, xs, h, w)
    resid = delta_e76(samples, design_all @ coef)
    kept = resid[keep]
    centre = np.median(kept)
    mad = float(np.median(np.abs(kept - centre))) + 1e-3
    keep2 = keep & (resid < centre + OUTLIER_MADS * 1.4826 * mad + 1.0)
    if MIN_FIT_PIXELS <= keep2.sum() < keep.sum():
        coef = _fit(ys[keep2], xs[keep2], samples[keep2], h, w)
        resid = delta_e76(samples, design_all @ coef)
        keep = keep2
    kept = resid[keep]
    centre = np.median(kept)
    noise = float(1.4826 * np.median(np.abs(kept - centre))) + float(centre)
    bg_rgb = np.median(rgb[ys[keep], xs[keep]].astype(np.float32), axis=0)
    return BackgroundModel(
        lab=_surface(coef, h, w),
        rgb=(float(bg_rgb[0]), float(bg_rgb[1]), float(bg_rgb[2])),
        noise=noise,
        border_bg_fraction=float(keep.mean()),
    )


def _robust_noise(resid: np.ndarray) -> float:
    """median + normal-scaled MAD of residuals (ΔE76), after dropping those beyond
    ``OUTLIER_MADS`` MADs (product or shadow on the border)."""
    mad = float(np.median(np.abs(resid - np.median(resid)))) + 1e-3
    kept = resid[resid < np.median(resid) + OUTLIER_MADS * 1.4826 * mad + 1.0]
    return float(1.4826 * np.median(np.abs(kept - np.median(kept)))) + float(np.median(kept))


def border_noise(lab: np.ndarray, bg: BackgroundModel) -> float:
    """The backdrop's noise (as ``BackgroundModel.noise``) of another copy of the work image, e.g.
    one blurred as much as resampling to the reference size would: what a region's median can be
    compared with. lab: HWC float32 Lab, same HW as ``bg.lab``."""
    ys, xs = _border_indices(*lab.shape[:2])
    return _robust_noise(np.linalg.norm(lab[ys, xs] - bg.lab[ys, xs], axis=1))


def shadow_like(lab: np.ndarray, bg_lab: np.ndarray) -> np.ndarray:
    """HW bool: pixels that look like a shadow cast on the background (the shared shadow
    predicate's ``FLOOD`` preset: :mod:`pipeline.segment.shadow_predicate`).

    lab, bg_lab: HWC (or N x 3) float32 Lab.
    """
    return is_shadow_lab(lab, bg_lab, FLOOD)


LOCAL_MATCH_DE = 1.0  # ΔE76 between a region and the backdrop around it under which it continues it
LOCAL_SLOPE_MARGIN = 0.1  # ΔL per ref px a region may be more textured than that backdrop
MEDIAN_SAMPLES = 4096  # medians are taken over at most about this many pixels (speed; exact enough)


def continues_backdrop(lab: np.ndarray, grad: np.ndarray, region: np.ndarray, around: np.ndarray) -> bool:
    """True when ``region`` looks like the backdrop ``around`` it: median Lab within
    ``LOCAL_MATCH_DE`` and median slope at most ``LOCAL_SLOPE_MARGIN`` above theirs.

    lab: hwC float32 Lab window; grad: hw float32 ΔL per reference pixel
    (``classical.lightness_slope``); region, around: hw bool (non-empty).
    Medians are taken over at most about ``MEDIAN_SAMPLES`` pixels of each.
    """
    r_lab, a_lab = _sample(lab[region]), _sample(lab[around])
    de = float(np.linalg.norm(np.median(r_lab, axis=0) - np.median(a_lab, axis=0)))
    if de >= LOCAL_MATCH_DE:
        return False
    return float(np.median(_sample(grad[region]))) <= float(np.median(_sample(grad[around]))) + LOCAL_SLOPE_MARGIN


def _sample(values: np.ndarray) -> np.ndarray:
    return values[:: max(1, len(values) // MEDIAN_SAMPLES)]
