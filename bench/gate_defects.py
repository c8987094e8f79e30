"""Known defects, injected at graded strengths, for measuring the gate (bench/gate_eval.py).

Cut-out defects are made from a true mask (and, for shadows and reflections, a photo with the
shadow or reflection painted onto its backdrop): each returns ``(photo, alpha)``, HWC uint8 and
HW float32 in [0, 1], at the photo's size. Appearance and scene defects change a finished
composite or its scene plate (HWC uint8). Every function is deterministic for a given ``rng``.
"""

from __future__ import annotations

import string

import cv2
import numpy as np

from pipeline.score.color import delta_e00_srgb, srgb_color_to_lab


def disc(r: int) -> np.ndarray:
    r = max(0, int(r))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _u8(mask: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(mask, dtype=np.uint8)


def border_colour(photo: np.ndarray) -> np.ndarray:
    """Median RGB of the photo's outer 2% ring (float32, 3)."""
    h, w = photo.shape[:2]
    b = max(2, round(0.02 * min(h, w)))
    ring = np.concatenate([photo[:b].reshape(-1, 3), photo[-b:].reshape(-1, 3),
                           photo[:, :b].reshape(-1, 3), photo[:, -b:].reshape(-1, 3)])
    return np.median(ring.astype(np.float32), axis=0)


# ----------------------------------------------------------------------------- cut-out defects


def grow(photo: np.ndarray, mask: np.ndarray, px: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The mask grown ``px`` pixels into the backdrop (a disc)."""
    return photo, cv2.dilate(_u8(mask), disc(px)).astype(np.float32)


def erode(photo: np.ndarray, mask: np.ndarray, px: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The product's edge eaten ``px`` pixels deep."""
    return photo, cv2.erode(_u8(mask), disc(px)).astype(np.float32)


def fringe(photo: np.ndarray, mask: np.ndarray, px: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A white fringe: ``px`` pixels of backdrop kept as a soft rim (alpha ramps out over it)."""
    grown = cv2.dilate(_u8(mask), disc(px)).astype(np.float32)
    dist = cv2.distanceTransform(1 - _u8(mask), cv2.DIST_L2, 5)
    alpha = np.where(mask, 1.0, np.clip(1.0 - dist / (px + 1.0), 0.0, 1.0) * grown)
    # The rim is opaque enough to be part of the hard mask.
    return photo, np.maximum(alpha, 0.55 * grown).astype(np.float32)


def _nearest_first(candidates: np.ndarray, mask: np.ndarray, area: float) -> np.ndarray:
    """Up to ``area`` pixels of ``candidates`` (HW bool), nearest to ``mask`` first."""
    dist = cv2.distanceTransform(1 - _u8(mask), cv2.DIST_L2, 5)
    ys, xs = np.nonzero(candidates)
    order = np.argsort(dist[ys, xs], kind="stable")[: int(round(area))]
    out = np.zeros_like(mask)
    out[ys[order], xs[order]] = True
    return out


def _footprint(mask: np.ndarray) -> tuple[int, int, int, int, int]:
    """(top, base, x0, x1, height) of the mask."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return int(ys[0]), int(ys[-1]), int(xs[0]), int(xs[-1]) + 1, int(ys[-1] - ys[0] + 1)


def shadow(photo: np.ndarray, mask: np.ndarray, frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A soft contact + cast shadow painted under the product; the ``frac`` of the product's area
    nearest to it kept in the mask (a segmenter that took the shadow for product)."""
    top, base, x0, x1, height = _footprint(mask)
    h, w = mask.shape
    foot = np.zeros((h, w), np.float32)
    band = max(2, round(0.05 * height))
    foot[max(0, base - band): base + 1] = mask[max(0, base - band): base + 1]
    shift = np.float32([[1, 0, 0.04 * (x1 - x0)], [0, 1, 0.015 * height]])
    foot = cv2.warpAffine(foot, shift, (w, h))
    sx, sy = max(2.0, 0.08 * (x1 - x0)), max(1.5, 0.025 * height)
    pool = cv2.GaussianBlur(foot, (0, 0), sigmaX=sx, sigmaY=sy)
    pool = 0.5 * pool / max(float(pool.max()), 1e-6)
    pool[mask] = 0.0
    out = np.clip(photo.astype(np.float32) * (1.0 - pool[..., None]) + 0.5, 0, 255).astype(np.uint8)
    kept = _nearest_first(pool > 0.04, mask, frac * np.count_nonzero(mask))
    return out, (mask | kept).astype(np.float32)


def reflection(photo: np.ndarray, mask: np.ndarray, opacity: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A floor reflection (the product mirrored under its base, fading out over 30% of its
    height, at ``opacity``) painted on the backdrop, and kept in the mask where it is visible."""
    top, base, x0, x1, height = _footprint(mask)
    h, w = mask.shape
    depth = min(int(0.3 * height), h - base - 1)
    if depth < 4:
        return photo, mask.astype(np.float32)
    src = photo[base - depth + 1: base + 1][::-1].astype(np.float32)
    src_m = mask[base - depth + 1: base + 1][::-1]
    fade = (1.0 - np.arange(depth, dtype=np.float32) / depth)[:, None]
    weight = opacity * fade * src_m
    region = (slice(base + 1, base + 1 + depth), slice(None))
    weight[mask[region]] = 0.0
    out = photo.copy()
    floor = out[region].astype(np.float32)
    out[region] = np.clip(floor * (1 - weight[..., None]) + src * weight[..., None] + 0.5, 0, 255).astype(np.uint8)
    changed = np.zeros_like(mask)
    diff = np.abs(out[region].astype(np.int16) - photo[region].astype(np.int16)).max(axis=2)
    changed[region] = diff >= 6
    n, labels = cv2.connectedComponents(_u8(changed | mask), connectivity=8)
    keep = np.unique(labels[mask])
    kept = np.isin(labels, keep[keep > 0]) & changed
    return out, (mask | kept).astype(np.float32)


def _bite(mask: np.ndarray, seed: tuple[int, int], area: float, ragged: np.ndarray | None) -> np.ndarray:
    """Mask pixels within a radius of ``seed`` (optionally modulated by ``ragged``, HW float32
    around 1) holding about ``area`` pixels; the radius by bisection."""
    ys, xs = np.nonzero(mask)
    d = np.hypot(ys - seed[0], xs - seed[1])
    if ragged is not None:
        d = d / ragged[ys, xs]
    r = np.sort(d)[min(len(d) - 1, int(area))]
    out = np.zeros_like(mask)
    sel = d <= r
    out[ys[sel], xs[sel]] = True
    return out


def _faintest_outline_point(photo: np.ndarray, mask: np.ndarray, by: str) -> tuple[int, int]:
    """The outline point (y, x) where the product is most like the backdrop (``by="colour"``)
    or where its edge is weakest (``by="edge"``), averaged over a 15 px window."""
    m8 = _u8(mask)
    outline = (m8 - cv2.erode(m8, disc(1))) > 0
    lab = cv2.cvtColor(photo.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    if by == "colour":
        bg = srgb_color_to_lab(tuple(float(v) for v in border_colour(photo)))
        inner = cv2.erode(m8, disc(3)).astype(bool) & ~cv2.erode(m8, disc(10)).astype(bool)
        cost = np.where(inner, np.linalg.norm(lab - bg, axis=2), 0).astype(np.float32)
        weight = inner.astype(np.float32)
    else:
        g = cv2.magnitude(cv2.Sobel(lab[..., 0], cv2.CV_32F, 1, 0), cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1))
        band = cv2.dilate(m8, disc(2)).astype(bool) & ~cv2.erode(m8, disc(2)).astype(bool)
        cost = np.where(band, g, 0).astype(np.float32)
        weight = band.astype(np.float32)
    smooth = cv2.blur(cost, (15, 15)) / np.maximum(cv2.blur(weight, (15, 15)), 1e-3)
    ys, xs = np.nonzero(outline)
    i = int(np.argmin(smooth[ys, xs]))
    return int(ys[i]), int(xs[i])


def drop_white(photo: np.ndarray, mask: np.ndarray, frac: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The part of the product most like the backdrop (a white rim, sole or strap) dropped:
    ``frac`` of the area, bitten from the outline where the product is palest against it."""
    seed = _faintest_outline_point(photo, mask, "colour")
    return photo, (mask & ~_bite(mask, seed, frac * np.count_nonzero(mask), None)).astype(np.float32)


def leak(photo: np.ndarray, mask: np.ndarray, frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Backdrop leaking in through the weakest edge: a ragged bite of ``frac`` of the area."""
    seed = _faintest_outline_point(photo, mask, "edge")
    h, w = mask.shape
    noise = cv2.resize(rng.random((max(2, h // 12), max(2, w // 12))).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    ragged = 0.6 + 0.8 * np.clip(noise, 0, 1)
    return photo, (mask & ~_bite(mask, seed, frac * np.count_nonzero(mask), ragged)).astype(np.float32)


CUTOUT_DEFECTS = {
    # kind: (function, strengths, unit, visible(strength, measured area share))
    "grown": (grow, (1, 2, 4, 6, 8, 12, 20), "px", lambda s, a: s >= 4),
    "shadow kept": (shadow, (0.005, 0.01, 0.02, 0.05), "area", lambda s, a: a >= 0.01),
    "reflection kept": (reflection, (0.1, 0.2, 0.35, 0.5), "opacity", lambda s, a: a >= 0.01),
    "white part dropped": (drop_white, (0.005, 0.01, 0.02, 0.05), "area", lambda s, a: a >= 0.01),
    "backdrop leak": (leak, (0.005, 0.01, 0.02, 0.05), "area", lambda s, a: a >= 0.01),
    "eroded": (erode, (1, 2, 4, 6), "px", lambda s, a: s >= 4 or a >= 0.01),
    "white fringe": (fringe, (1, 2, 4, 6), "px", lambda s, a: s >= 4),
}


# -------------------------------------------------------------------------- appearance defects


def _lab_shift(composite: np.ndarray, mask: np.ndarray, vec: np.ndarray) -> np.ndarray:
    out = composite.copy()
    px = composite[mask].astype(np.float32)[None] / 255.0
    lab = cv2.cvtColor(px, cv2.COLOR_RGB2Lab) + vec.astype(np.float32)
    out[mask] = np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def colour_shift(composite: np.ndarray, mask: np.ndarray, target: float, rng: np.random.Generator) -> np.ndarray:
    """Every product pixel's colour shifted so that the mean ΔE00 is about ``target``."""
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([0.0, np.cos(angle), np.sin(angle)])
    k = target
    for _ in range(3):
        out = _lab_shift(composite, mask, direction * k)
        got = float(np.mean(delta_e00_srgb(out[mask], composite[mask])))
        k *= target / max(got, 1e-3)
    return _lab_shift(composite, mask, direction * k)


def brightness(composite: np.ndarray, mask: np.ndarray, pct: float, rng: np.random.Generator) -> np.ndarray:
    out = composite.copy()
    out[mask] = np.clip(composite[mask].astype(np.float32) * (1 + pct) + 0.5, 0, 255).astype(np.uint8)
    return out


def contrast(composite: np.ndarray, mask: np.ndarray, pct: float, rng: np.random.Generator) -> np.ndarray:
    out = composite.copy()
    px = composite[mask].astype(np.float32)
    mean = px.mean(axis=0)
    out[mask] = np.clip((px - mean) * (1 + pct) + mean + 0.5, 0, 255).astype(np.uint8)
    return out


def _box_region(box, mask: np.ndarray):
    x0, y0, x1, y1 = box
    return (slice(y0, y1), slice(x0, x1)), mask[y0:y1, x0:x1]


def logo_blur(composite, mask, box, sigma, rng):
    out = composite.copy()
    sl, inside = _box_region(box, mask)
    blurred = cv2.GaussianBlur(composite, (0, 0), sigma)[sl]
    out[sl][inside] = blurred[inside]
    return out


def logo_shift(composite, mask, box, px, rng):
    out = composite.copy()
    sl, inside = _box_region(box, mask)
    moved = np.roll(composite, (px, px), axis=(0, 1))[sl]
    out[sl][inside] = moved[inside]
    return out


def logo_warp(composite, mask, box, amp, rng):
    out = composite.copy()
    sl, inside = _box_region(box, mask)
    h, w = composite.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(8.0, (box[3] - box[1]) / 2.0)
    mx = xx + amp * np.sin(yy / period * 2 * np.pi)
    my = yy + amp * np.cos(xx / period * 2 * np.pi)
    warped = cv2.remap(composite, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)[sl]
    out[sl][inside] = warped[inside]
    return out


def logo_text(composite, mask, box, _strength, rng):
    """The logo box repainted with other text: its median colour, then random capitals in the
    box's darkest or lightest colour (whichever contrasts more)."""
    out = composite.copy()
    sl, inside = _box_region(box, mask)
    patch = out[sl].copy()
    px = patch[inside].astype(np.float32)
    if px.size == 0:
        return out
    bg = np.median(px, axis=0)
    lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
    ink = px[np.argmin(lum)] if float(bg @ np.array([0.299, 0.587, 0.114])) > 128 else px[np.argmax(lum)]
    canvas = np.empty_like(patch)
    canvas[:] = bg.astype(np.uint8)
    bh, bw = patch.shape[:2]
    text = "".join(rng.choice(list(string.ascii_uppercase), 6))
    scale = max(0.3, bh / 40.0)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    scale *= min(1.0, 0.9 * bw / max(tw, 1))
    cv2.putText(canvas, text, (2, int(bh * 0.7)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                tuple(int(v) for v in ink), max(1, int(scale * 2)), cv2.LINE_AA)
    patch[inside] = canvas[inside]
    out[sl] = patch
    return out


def expansion(composite, mask, frac, rng):
    """The product's edge colours grown outward over ``frac`` of its area (what a model that
    continues the product past its outline does)."""
    outside = _u8(~mask)
    dist, labels = cv2.distanceTransformWithLabels(outside, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    zeros = np.flatnonzero(outside.ravel() == 0)  # label k -> k-th zero pixel in row-major order
    area = np.count_nonzero(mask)
    ring = (dist > 0) & (dist <= np.sort(dist[dist > 0])[min(int(frac * area), np.count_nonzero(dist > 0) - 1)])
    src = zeros[labels[ring] - 1]
    out = composite.copy()
    out.reshape(-1, 3)[np.flatnonzero(ring.ravel())] = composite.reshape(-1, 3)[src]
    return out


def halo(composite, mask, px, rng, backdrop_rgb=(250.0, 250.0, 250.0)):
    """A ring of ``px`` pixels outside the product, 80% toward the photo's old backdrop colour."""
    dist = cv2.distanceTransform(_u8(~mask), cv2.DIST_L2, 5)
    ring = (dist > 0) & (dist <= px)
    out = composite.copy()
    out[ring] = np.clip(0.2 * composite[ring] + 0.8 * np.asarray(backdrop_rgb, np.float32) + 0.5, 0, 255).astype(np.uint8)
    return out


def jpeg(composite, mask, quality, rng):
    ok, buf = cv2.imencode(".jpg", composite[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()


def paste_into(frame: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, box) -> np.ndarray:
    """``rgb``/``alpha`` (a cut-out's bounding box) scaled to fit ``box`` (xyxy) and pasted."""
    x0, y0, x1, y1 = box
    bw, bh = max(1, x1 - x0), max(1, y1 - y0)
    s = min(bw / rgb.shape[1], bh / rgb.shape[0])
    size = (max(1, int(rgb.shape[1] * s)), max(1, int(rgb.shape[0] * s)))
    r = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA)[..., None]
    ox, oy = x0 + (bw - size[0]) // 2, y1 - size[1]
    out = frame.copy()
    region = out[oy: oy + size[1], ox: ox + size[0]]
    h, w = region.shape[:2]
    region[:] = np.clip(r[:h, :w] * a[:h, :w] + region * (1 - a[:h, :w]) + 0.5, 0, 255).astype(np.uint8)
    return out


def crop_cutout(rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y, w, h = cv2.boundingRect(_u8(alpha > 0.5))
    return rgb[y: y + h, x: x + w], alpha[y: y + h, x: x + w]


APPEARANCE_DEFECTS = {
    # kind: (function, strengths, unit, visible(strength)); logo kinds take the box as 3rd arg
    "colour shift": (colour_shift, (1.0, 2.0, 3.0, 4.0, 6.0), "ΔE00", lambda s: s >= 3),
    "brightness": (brightness, (-0.10, -0.05, -0.02, 0.02, 0.05, 0.10), "gain", None),
    "contrast": (contrast, (-0.2, -0.1, 0.1, 0.2), "gain", None),
    "logo blurred": (logo_blur, (0.7, 1.5, 3.0), "sigma px", lambda s: s >= 1.5),
    "logo shifted": (logo_shift, (1, 2, 4, 8), "px", lambda s: s >= 2),
    "logo warped": (logo_warp, (1.0, 2.0, 4.0), "px", lambda s: s >= 2),
    "logo replaced": (logo_text, (1,), "", lambda s: True),
    "expansion": (expansion, (0.01, 0.02, 0.05, 0.10), "area", lambda s: s >= 0.02),
    "halo": (halo, (1, 2, 3), "px", None),
    "jpeg": (jpeg, (90, 70, 50, 30), "quality", None),
}
LOGO_KINDS = {"logo blurred", "logo shifted", "logo warped", "logo replaced"}


# ------------------------------------------------------------------------------- scene defects


def scene_black(plate, rng):
    return np.zeros_like(plate)


def scene_flat(plate, rng):
    return np.full_like(plate, np.median(plate.reshape(-1, 3), axis=0).astype(np.uint8))


def scene_noise(plate, rng):
    return rng.integers(0, 256, plate.shape, dtype=np.uint8)


def scene_off_palette(plate, rng):
    """The backdrop washed in a saturated colour the theme does not have (a green cast)."""
    return np.clip(plate.astype(np.float32) * np.array([0.35, 0.95, 0.45], np.float32) + 0.5, 0, 255).astype(np.uint8)


SCENE_DEFECTS = ("black frame", "flat frame", "noise frame", "second product", "off palette", "floating")
