"""Peel cast shadows, contact shadows and floor reflections off a coarse product mask.

The backdrop flood stops at any sharp edge, so a shadow with a crisp rim or JPEG noise, a tinted
shadow or a faint mirror image stays in the mask. Here the backdrop grows again, by continuity
(``peel_shadows``):

1. candidates: mask pixels whose colour a dimmed backdrop explains (the shared shadow predicate's
   ``PEEL`` preset: down to 30% of the backdrop's lightness, chroma shift small for the darkening:
   a shadow may pick up some tint from the product, more where it is darker), a pale tinted one (a faint mirror image), a shadow tinted
   by light bounced off the product next to it (its chroma shift points towards the local product
   colour and goes at most ``TINT_SHARE`` of the way: a pink shadow under a pink sandal), or the
   backdrop itself (near the fitted surface, or near the local mean of known backdrop where a vignette or
   a graded sweep makes the fit drift);
2. the backdrop grows into the candidates through steps of at most ``STEP_DL`` in (slightly
   blurred) lightness from pixel to pixel: a shadow or a reflection fades smoothly into the floor;
3. each grown region is then judged as a whole. By how it is lit: a shadow or a reflection gets
   stronger towards the product and fades towards the open floor, so it is peeled when its
   deviation from the backdrop correlates clearly (``MIN_DEPTH_CORR``) with depth into the mask
   or against the distance to the remaining product, and the other measure agrees. Or because it
   continues the backdrop around it (``background.continues_backdrop``). A white part of the
   product reached by the growth (a sole, a rim, a lace) is shaded by its own form, not by
   distance, and stays.

``trim_shadow_fringe`` then removes the strip of contact shadow, a few pixels wide, that hugs an
outline, pixel by pixel.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from pipeline.segment.background import continues_backdrop
from pipeline.segment.matting import normalized_blur
from pipeline.segment.shadow_predicate import PEEL, is_shadow
from pipeline.segment.work_scale import REFERENCE, WorkScale

# Units: "ref px" are pixels at the reference work size (work_scale.REFERENCE_SIDE, 512 long side),
# scaled with the working size. Chosen on the generated samples (soft and contact shadows, a
# glossy-floor reflection) and the first 30 real photos (issue 7); the shadow colour test is the
# shared predicate's PEEL preset (shadow_predicate).
PALE_RATIO = 0.85  # a pale tinted patch (a faint mirror image) at least this share of the backdrop's L ...
PALE_CHROMA = 16.0  # ... may differ in chroma by up to this many ΔC*ab
NEAR_DL, NEAR_CHROMA = 3.0, 3.0  # |ΔL| and ΔC*ab within which a pixel may be the backdrop itself
WINDOW = 0.08  # share of the long side: the backdrop "around" a region is its box padded by this
MIN_WINDOW_PX = 8  # ref px: ... and at least this much
STEP_DL = 0.6  # ΔL per ref px: largest lightness step between neighbours the backdrop grows across
BLUR_SIGMA = 1.0  # ref px: lightness is blurred this much before the growth
MIN_DEPTH_CORR = 0.4  # Pearson r of deviation with depth that marks a shadow ...
WEAK_DEPTH_CORR = 0.2  # ... while the other measure agrees at least this much (or in sign)
MIN_REGION_PX = 10  # ref px²: smaller grown regions are boundary specks and are peeled
MIN_AROUND_PX = 50  # ref px²: backdrop pixels needed around a region for the local continuation test
SEED_STEP = 64  # ref px: growth seeds every SEED_STEP-th backdrop pixel along the outline
LOCAL_GRID = 8  # local means over a window of radius r are taken on a grid r / LOCAL_GRID coarser
MIN_COVER = 0.05  # share of a local window that must hold backdrop (or product) pixels for its mean
PALE = dataclasses.replace(PEEL, min_ratio=PALE_RATIO, base_chroma=PALE_CHROMA, chroma_per_dl=0.0)
TINT_SHARE = 0.35  # a bounce tint moves the backdrop's chroma at most this share of the way to the product's
TINT_MIN_CHROMA = 10.0  # ΔC*ab between product and backdrop under which no tint is told apart
FRINGE_PX = 4  # ref px: thickest strip of contact shadow hugging the outline that is trimmed
FRINGE_CONTRAST = 10.0  # ΔE76 between product and backdrop colours needed to tell them apart
FRINGE_DARKER = 6.0  # ΔL: a trimmed pixel is at least this much darker than the fitted backdrop ...
FRINGE_RATIO = 0.6  # ... and this much closer to the backdrop's colour than to the product's
FRINGE_WINDOW = 9  # ref px: product and backdrop colours are averaged over (2 FRINGE_PX + this)² boxes
FRINGE_MIN_COVER = 0.02  # share of such a box that must hold product (backdrop) pixels
FRINGE_CLEAR_PX = 2  # ref px: the backdrop for the fringe starts this far outside the mask


def shadow_candidates(lab: np.ndarray, bg_lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidates HW bool, deviation HW float32) for Lab images (HWC float32).

    Candidates: a dimmed backdrop (a shadow) or a pale tinted one (a faint mirror image).
    Deviation: sqrt(darkening^2 + chroma shift^2), signed darkening only (lighter counts as 0).
    """
    light, a, b = np.moveaxis(lab, -1, 0).copy()  # contiguous planes: the same arithmetic, faster than
    bg_light, bg_a, bg_b = np.moveaxis(bg_lab, -1, 0).copy()  # on strided channels
    dark = bg_light - light
    dchroma = np.hypot(a - bg_a, b - bg_b)
    backdrop = (np.abs(dark) <= NEAR_DL) & (dchroma <= NEAR_CHROMA)
    shadow = is_shadow(light, a, b, bg_light, bg_a, bg_b, PEEL)
    pale = is_shadow(light, a, b, bg_light, bg_a, bg_b, PALE)
    darker = np.maximum(dark, 0)
    return shadow | pale | backdrop, np.sqrt(darker * darker + dchroma * dchroma)


def _grow_backdrop(light: np.ndarray, mask: np.ndarray, allowed: np.ndarray, scale: WorkScale) -> np.ndarray:
    """HW bool: pixels of ``allowed`` reached from the backdrop (~mask) by small lightness steps
    (``light``: HW float32 lightness)."""
    h, w = mask.shape
    fill = np.ones((h + 2, w + 2), np.uint8)
    fill[1:-1, 1:-1] = ~allowed
    # Seeds: every SEED_STEP-th backdrop pixel along the mask's outline (the backdrop itself may
    # hold larger steps, so one seed per piece of backdrop is not enough).
    ring = ~mask & (cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    ys, xs = np.nonzero(ring)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (2 << 8)
    step, dl = scale.px(SEED_STEP), scale.slope(STEP_DL)
    for y, x in zip(ys[::step].tolist(), xs[::step].tolist()):
        if fill[y + 1, x + 1] == 0:
            cv2.floodFill(light, fill, (x, y), 0, dl, dl, flags)
    return fill[1:-1, 1:-1] == 2


def _near_local_backdrop(lab: np.ndarray, backdrop: np.ndarray, radius: int,
                         inner: tuple[slice, slice]) -> np.ndarray:
    """HW bool, true inside ``inner`` only: pixels within NEAR_DL / NEAR_CHROMA of the local backdrop
    colour (the mean Lab of the ``backdrop`` pixels in a (2 radius + 1)^2 box), where a graded
    sweep or a vignette makes the fitted surface drift. The mean is smooth: taken on a coarser grid."""
    step = max(1, radius // LOCAL_GRID)
    local, cover = normalized_blur(np.ascontiguousarray(lab[::step, ::step]), backdrop[::step, ::step],
                                   2 * (radius // step) + 1)
    size = (lab.shape[1], lab.shape[0])
    local = cv2.resize(local, size, interpolation=cv2.INTER_LINEAR)[inner]
    cover = cv2.resize(cover, size, interpolation=cv2.INTER_LINEAR)[inner]
    part = lab[inner]
    out = np.zeros(lab.shape[:2], bool)
    out[inner] = ((np.abs(part[..., 0] - local[..., 0]) <= NEAR_DL)
                  & (np.hypot(part[..., 1] - local[..., 1], part[..., 2] - local[..., 2]) <= NEAR_CHROMA)
                  & (cover > MIN_COVER))
    return out




def tinted_towards(px: np.ndarray, bg: np.ndarray, product_ab: np.ndarray) -> np.ndarray:
    """N bool: pixels (``px`` N x 3 Lab) whose chroma shift from the backdrop (``bg`` N x 3 Lab)
    points towards the product colour next to them (``product_ab`` N x 2 a*b*) and goes at most
    ``TINT_SHARE`` of the way, drifting across that direction no more than a plain shadow may; where
    product and backdrop differ by more than ``TINT_MIN_CHROMA``. No square roots: compared squared."""
    pa, pb = product_ab[:, 0] - bg[:, 1], product_ab[:, 1] - bg[:, 2]  # towards the product
    sa, sb = px[:, 1] - bg[:, 1], px[:, 2] - bg[:, 2]  # the pixel's shift
    reach2 = pa * pa + pb * pb
    dot = sa * pa + sb * pb  # along * reach
    cross = sa * pb - sb * pa  # across * reach
    drift = PEEL.base_chroma + PEEL.chroma_per_dl * np.maximum(bg[:, 0] - px[:, 0], 0)
    return ((reach2 > TINT_MIN_CHROMA ** 2) & (dot >= 0) & (dot <= TINT_SHARE * reach2)
            & (cross * cross <= drift * drift * reach2))


def _tinted_by_product(lab: np.ndarray, bg_lab: np.ndarray, product: np.ndarray, radius: int,
                       inner: tuple[slice, slice]) -> np.ndarray:
    """HW bool, true inside ``inner`` only: a shadow tinted by light bounced off the product next to
    it (a pink shadow under a pink sandal). Its chroma shift from the backdrop points towards the
    local product colour (the mean a*b* of ``product`` pixels in a (2 radius + 1)^2 box, on a coarser
    grid) and goes less than ``TINT_SHARE`` of the way; across that direction it stays within what a
    plain shadow may drift. Lightness as for a shadow. Tested only at the ``product`` pixels.
    lab, bg_lab: HWC float32 Lab; product: HW bool, pixels taken for product so far."""
    step = max(1, radius // LOCAL_GRID)
    local, cover = normalized_blur(np.ascontiguousarray(lab[::step, ::step, 1:]), product[::step, ::step],
                                   2 * (radius // step) + 1)
    coarse = np.dstack([local, cover])
    fine = cv2.resize(coarse, (lab.shape[1], lab.shape[0]), interpolation=cv2.INTER_LINEAR)[inner]
    part, bg = lab[inner], bg_lab[inner]
    light, bg_light = part[..., 0], bg[..., 0]
    lit = (light >= PEEL.min_ratio * bg_light) & (light < PEEL.max_ratio * bg_light)  # as for a shadow
    ys, xs = np.nonzero(product[inner] & lit & (fine[..., 2] > MIN_COVER))
    px, bgp, near = part[ys, xs], bg[ys, xs], fine[ys, xs]
    ok = tinted_towards(px, bgp, near[:, :2])
    out = np.zeros(lab.shape[:2], bool)
    out[inner[0].start + ys[ok], inner[1].start + xs[ok]] = True
    return out


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two same-length 1-D arrays; 0 when either is (nearly) constant."""
    if a.size < 3 or not (a.std() > 1e-6 and b.std() > 1e-6):
        return 0.0
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


def peel_shadows(lab: np.ndarray, bg_lab: np.ndarray, mask: np.ndarray, grad: np.ndarray,
                 backdrop: np.ndarray, scale: WorkScale = REFERENCE) -> np.ndarray:
    """Mask (HW bool) without the shadows and reflections found around it (see module doc).

    lab, bg_lab: HWC float32 Lab of the work image and of the fitted backdrop; mask: HW bool;
    grad: HW float32 ΔL per reference pixel; backdrop: HW bool, pixels known to be plain backdrop (a grown
    region that continues them is peeled too); scale: the work size's. Works inside the mask's
    box, padded by twice the local window.
    """
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if ys.size == 0:
        return mask
    h, w = mask.shape
    pad = 2 * max(scale.px(MIN_WINDOW_PX), int(WINDOW * max(h, w)))
    box = (slice(max(0, ys[0] - pad), min(h, ys[-1] + 1 + pad)), slice(max(0, xs[0] - pad), min(w, xs[-1] + 1 + pad)))
    out = mask.copy()
    out[box] = _peel(lab[box], bg_lab[box], mask[box], grad[box], backdrop[box], pad // 2, scale)
    return out


def _peel(lab: np.ndarray, bg_lab: np.ndarray, mask: np.ndarray, grad: np.ndarray, backdrop: np.ndarray,
          pad: int, scale: WorkScale) -> np.ndarray:
    """``peel_shadows`` inside its box; ``pad``: the local window's radius in pixels."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if ys.size == 0:
        return mask
    inner = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))  # candidates lie in the mask's box
    cand = np.zeros(mask.shape, bool)
    deviation = np.zeros(mask.shape, np.float32)
    cand[inner], deviation[inner] = shadow_candidates(lab[inner], bg_lab[inner])
    cand |= _near_local_backdrop(lab, backdrop, pad, inner)
    cand |= _tinted_by_product(lab, bg_lab, mask & ~cand, pad, inner)
    cand &= mask
    if not cand.any() or mask.all():
        return mask
    light = np.ascontiguousarray(cv2.GaussianBlur(lab[..., 0], (0, 0), scale.sigma(BLUR_SIGMA)))
    reached = _grow_backdrop(light, mask, ~mask | cand, scale) & mask
    if not reached.any():
        return mask
    rest = mask & ~reached
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    to_product = cv2.distanceTransform((~rest).astype(np.uint8), cv2.DIST_L2, 3)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(reached.astype(np.uint8), connectivity=8)
    peel = np.zeros(n, bool)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < scale.area(MIN_REGION_PX):
            peel[i] = True
            continue
        x, y, w, h = stats[i, :4]
        win = (slice(y, y + h), slice(x, x + w))
        region = labels[win] == i
        d = deviation[win][region]
        inward = correlation(depth[win][region], d)  # > 0: stronger deeper into the mask
        outward = correlation(to_product[win][region], d)  # < 0: stronger nearer the product
        peel[i] = ((inward >= MIN_DEPTH_CORR and outward <= 0.0)
                   or (outward <= -MIN_DEPTH_CORR and inward >= WEAK_DEPTH_CORR))
        if not peel[i]:
            big = (slice(max(0, y - pad), y + h + pad), slice(max(0, x - pad), x + w + pad))
            around = backdrop[big]
            if around.sum() >= scale.area(MIN_AROUND_PX):
                peel[i] = continues_backdrop(lab[big], grad[big], labels[big] == i, around)
    return mask & ~peel[labels]


def trim_shadow_fringe(lab: np.ndarray, bg_lab: np.ndarray, mask: np.ndarray,
                       scale: WorkScale = REFERENCE) -> np.ndarray:
    """Mask (HW bool) without the thin strip of contact shadow along its outline.

    A strip a few pixels wide under an edge gives no region to judge, so it is judged per pixel:
    layer by layer from the outline (at most ``FRINGE_PX``), a pixel goes when it is a shadow (plain,
    or tinted towards the product next to it), clearly darker than the fitted backdrop, much closer
    in colour to the backdrop next to it than to the product next to it (where those two differ
    enough to tell).
    lab, bg_lab: HWC float32 Lab of the work image and the fitted backdrop; scale: the work size's.
    """
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if ys.size == 0:
        return mask
    h, w = mask.shape
    fringe = scale.px(FRINGE_PX)
    pad = 4 * fringe
    box = (slice(max(0, ys[0] - pad), min(h, ys[-1] + 1 + pad)), slice(max(0, xs[0] - pad), min(w, xs[-1] + 1 + pad)))
    m8 = mask[box].astype(np.uint8)
    part = np.ascontiguousarray(lab[box])
    k3 = np.ones((3, 3), np.uint8)
    inner = cv2.erode(m8, k3, iterations=fringe) > 0
    band = (m8 > 0) & ~inner  # where a pixel may be trimmed
    # Local product and backdrop colours are box means: smooth, so taken on a 2x coarser grid.
    half = np.ascontiguousarray(part[::2, ::2])
    size = fringe + scale.px(FRINGE_WINDOW) // 2
    product, p_cover = normalized_blur(half, inner[::2, ::2], size | 1)
    clear = cv2.dilate(m8, k3, iterations=scale.px(FRINGE_CLEAR_PX)) == 0
    floor, f_cover = normalized_blur(half, clear[::2, ::2], size | 1)
    yb, xb = np.nonzero(band)
    yh, xh = yb // 2, xb // 2
    px, pr, fl, bgp = part[yb, xb], product[yh, xh], floor[yh, xh], bg_lab[box][yb, xb]
    cand, _ = shadow_candidates(px[None], bgp[None])
    cand |= tinted_towards(px, bgp, pr[:, 1:])[None]  # or a shadow tinted by the product next to it
    to_product = np.linalg.norm(px - pr, axis=1)
    to_floor = np.linalg.norm(px - fl, axis=1)
    covered = (p_cover[yh, xh] > FRINGE_MIN_COVER) & (f_cover[yh, xh] > FRINGE_MIN_COVER)
    ok = (cand[0] & (bgp[:, 0] - px[:, 0] > FRINGE_DARKER) & covered
          & (np.linalg.norm(pr - fl, axis=1) > FRINGE_CONTRAST) & (to_floor < FRINGE_RATIO * to_product))
    shadow = np.zeros(band.shape, bool)
    shadow[yb[ok], xb[ok]] = True
    m = m8 > 0
    for _ in range(fringe):
        edge = m & ~(cv2.erode(m.astype(np.uint8), k3) > 0) & shadow
        if not edge.any():
            break
        m &= ~edge
    out = mask.copy()
    out[box] = m
    return out
