"""Logo and text repair for a repainted product (``restore.mode: harmonised``), at the output size.

The scene backend repainted the whole product at its work size (768 px for SD1.5) and the frame
was resized to the output size, so fine print comes back soft, shifted or, from a bad model,
destroyed. Each logo box is rebuilt from the original product, which ``place`` resampled to the
output size directly (never through the work size):

1. Detail transfer: the original's pixels under the repainted frame's low-frequency light, as a
   per-pixel gain ``G(frame) / G(original)`` (Gaussian blurs over product pixels only, so the
   backdrop never bleeds in), split into a luma gain and a colour cast that keeps each pixel's
   luma. Both are bounded (``GAIN_RANGE``, ``CHROMA_RANGE``): light moves smoothly and within
   limits. And the logo takes the repaint's light only as far as the repaint still looks like the
   product there (the correlation of the two, ``light_trust``): a repaint that is noise, or a
   different object, leaves the original's own light.
2. The zone: the box grown by ``CONTEXT_PX``, on product pixels, with the product's soft edge
   alpha-composited over the frame (the arithmetic of the exact paste), so a letter at the box
   edge keeps its outline.
3. The seam: over the next ``SEAM_PX`` the rebuilt product fades linearly into the repainted one.

Why no Poisson blend (``cv2.seamlessClone``, used before): its membrane carries the mismatch at
the domain's boundary (a light offset; with a noisy repaint, blotches) into the whole logo. At
the real geometry (768 px work, 1024 px output) that left logo SSIM at 0.72-0.89 with the true
boxes; the gain already takes the scene's light, and the feather hides the seam
(``bench/eval_harmonised_logos.py`` measures both).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import BoxXYXY

CONTEXT_PX = 5  # the zone reaches past the box by the SSIM window's radius (11-tap window, score/ssim.py)
SEAM_PX = 6  # feather from the rebuilt product to the repainted one (kept from the Poisson seam band)
GAIN_RANGE = (0.85, 1.2)  # scene light may shift a repaired logo's luminance by -15% .. +20%, not more
CHROMA_RANGE = (0.8, 1.25)  # and each channel's share of it by -20% .. +25% (a colour cast)
MIN_LOGO_PX = 16  # product pixels a box must hold to be repaired
AGREEMENT_SIGMA = 1.5  # px: the SSIM window's sigma; forgives the work-size round trip's resampling
# Agreement (NCC) -> trust. Measured with bench/eval_harmonised_logos.py over the 80 true boxes of 35 real
# photos: a relit repaint through the work size scores 0.92 at the 5th percentile (median 0.995), random
# weights' repaint at most 0.35 (median 0.00). Trust starts above the noise and is full well below the relit.
TRUST_NCC = (0.4, 0.8)
LUMA = np.array([[0.2125, 0.7154, 0.0721]], np.float32)  # Rec. 709 (skimage rgb2gray, score/ssim.py)


def _masked_blur(img: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    num = cv2.GaussianBlur(img * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    return num / np.maximum(den, 1e-3)


def transfer_detail(frame: np.ndarray, original: np.ndarray, support: np.ndarray, sigma: float,
                    trust: float = 1.0) -> np.ndarray:
    """``original``'s detail under ``frame``'s low-frequency light: HWC float32 (0..~320).

    frame, original: HWC uint8, same size; support: HW bool, the product pixels the blurs average
    over; sigma: the blur (px at the output size) splitting light from detail. The light is a
    luma gain (bounded by ``GAIN_RANGE``) times a colour cast (each channel's gain relative to the
    luma gain, bounded by ``CHROMA_RANGE``) that leaves each pixel's luma at luma gain x the
    original's: the lettering's lightness pattern is kept whatever the cast. ``trust`` in [0, 1]
    scales both toward 1 (geometrically): 0 keeps the original's own light.
    """
    t = frame.astype(np.float32)
    s = original.astype(np.float32)
    w = support.astype(np.float32)
    light_t = _masked_blur(t, w, sigma) + 4.0
    light_s = _masked_blur(s, w, sigma) + 4.0
    luma_gain = np.clip(_luma(light_t) / _luma(light_s), *GAIN_RANGE) ** trust
    cast = np.clip((light_t / light_s) / luma_gain[..., None], *CHROMA_RANGE) ** trust
    out = s * cast
    keep_luma = (luma_gain * (_luma(s) + 1.0)) / (_luma(out) + 1.0)
    return out * keep_luma[..., None]


def repaint_agreement(frame: np.ndarray, original: np.ndarray, support: np.ndarray) -> float:
    """Normalised cross-correlation in [-1, 1] of the two images' luma (Gaussian sigma
    ``AGREEMENT_SIGMA``) over ``support`` (HW bool): about 1 when the repaint is the original under
    other light, about 0 when it is noise; 0 when either is flat there (under 1 grey level)."""
    a = cv2.GaussianBlur(_luma(frame.astype(np.float32)), (0, 0), AGREEMENT_SIGMA)[support]
    b = cv2.GaussianBlur(_luma(original.astype(np.float32)), (0, 0), AGREEMENT_SIGMA)[support]
    a = a - a.mean()
    b = b - b.mean()
    norm = float(np.sqrt((a * a).mean() * (b * b).mean()))
    return 0.0 if norm < 1.0 else float((a * b).mean() / norm)


def light_trust(agreement: float) -> float:
    """How much of the repaint's light a logo takes: 0 at or below ``TRUST_NCC[0]``, 1 at or above
    ``TRUST_NCC[1]``, linear between."""
    lo, hi = TRUST_NCC
    return float(np.clip((agreement - lo) / (hi - lo), 0.0, 1.0))


def _luma(rgb: np.ndarray) -> np.ndarray:
    """HWC float32 -> HW float32 Rec. 709 luma (the weights of the SSIM the gate scores logos with)."""
    return cv2.transform(rgb, LUMA)


def zone_weight(box_mask: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """HW float32 in [0, 1]: 1 on product pixels (alpha > 0) within ``CONTEXT_PX`` of the box,
    falling linearly to 0 over the next ``SEAM_PX``; 0 off the product."""
    outside = np.ascontiguousarray(~box_mask, dtype=np.uint8)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    weight = np.clip((CONTEXT_PX + SEAM_PX - dist) / SEAM_PX, 0.0, 1.0)
    return np.where(alpha > 0.0, weight, 0.0).astype(np.float32)


def restore_region(frame: np.ndarray, original: np.ndarray, alpha: np.ndarray, box: BoxXYXY,
                   sigma: float) -> np.ndarray:
    """Rebuild one logo box of ``frame`` from ``original`` (HWC uint8, output coordinates).

    alpha: HW float32 [0, 1], the placed product's. Only product pixels within
    ``CONTEXT_PX + SEAM_PX`` of the box change (the backdrop never does). Returns a new HWC uint8
    frame (``frame`` itself when the box holds under ``MIN_LOGO_PX`` product pixels).
    """
    h, w = alpha.shape
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return frame
    margin = CONTEXT_PX + SEAM_PX + int(3 * sigma) + 2
    cx0, cy0, cx1, cy1 = max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)
    crop = (slice(cy0, cy1), slice(cx0, cx1))
    a = alpha[crop]
    support = a >= 0.5
    box_mask = np.zeros(a.shape, bool)
    box_mask[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = True
    if int((box_mask & support).sum()) < MIN_LOGO_PX:
        return frame
    f = frame[crop].astype(np.float32)
    zone = (zone_weight(box_mask, a) >= 1.0) & support
    trust = light_trust(repaint_agreement(frame[crop], original[crop], zone))
    relit = transfer_detail(frame[crop], original[crop], support, sigma, trust)
    product = a[..., None] * relit + (1.0 - a[..., None]) * f  # soft edges as the exact paste makes them
    weight = zone_weight(box_mask, a)[..., None]
    out = frame.copy()
    out[crop] = np.clip(np.rint(weight * product + (1.0 - weight) * f), 0, 255).astype(np.uint8)
    return out
