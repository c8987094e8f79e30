"""Cut-out confidence: is the mask right? Judged from the photo alone, no ground truth.

The appearance metrics compare the composite with the product *as it was cut*, so a kept floor
shadow or a lost white rim is "the product" to them. These signals look at the photo and the
mask instead, in a crop around the mask at ``WORK_SIDE`` long side at most:

- ``cutout_edge_off``: share of the mask's outline (frame border excluded) farther than
  ``EDGE_TOL_PX`` from any edge of the photo. A true outline lies on an edge; a mask grown into
  the backdrop, or one that kept a soft shadow or a fading reflection, has outline on flat floor.
  Edges: Canny on the sigma-1 blurred photo, its low threshold ``max(EDGE_MIN, EDGE_K * noise)``
  grey levels per pixel, the noise being the median gradient of the backdrop near the product.
- ``cutout_base_off``: the same share over the base only (the outline in the lowest
  ``BASE_FRAC`` of the mask's height), where a kept contact shadow or floor reflection attaches:
  its soft or fading boundary is off any edge while the rest of the outline is right.
- ``cutout_backdrop_in``: share of the band ``IN_BAND`` px inside the outline whose colour is the
  backdrop's (ΔE76 to the fitted backdrop surface under ``max(BG_DE_MIN, BG_DE_K * noise)``):
  backdrop or a white fringe cut out with the product.
- ``cutout_product_out``: share of the band ``OUT_BAND`` px outside the outline that is clearly
  not backdrop (ΔE76 over ``OUT_DE``) and not a smooth shadow (darker, same chroma, no edge):
  product left behind (eroded edges, a dropped part).
- ``cutout_cut_through``: share of the outline that is off any edge and has the same, non-backdrop
  colour on both sides (local means 2-4 px inside and 2-5 px outside): the mask cuts through the
  product (a bite taken out of a coloured part, backdrop leaking in).
- ``cutout_continues_out``: share of the outline, above the base, that is off any edge and has
  the same colour on both sides (within ``CUT_DE``) where the outside is not the backdrop surface
  (ΔE76 over ``CONTINUE_BG_K * t_bg``, shadow-like or not) 2-5 and 7-10 px out, so a part
  thinner than that (a rim's lip line) does not count: the product continues past the outline
  (a pale part dropped, backdrop leaking in through a weak edge). Unlike ``cutout_cut_through`` it
  compares with the fitted backdrop surface at each pixel and keeps shadow-like colours, so a
  white or grey part, slightly darker than the backdrop with its chroma, still counts; the base is
  left out, where a contact shadow next to a shaded base reads the same.
The backdrop surface is :func:`pipeline.segment.background.fit_background` on a small copy of
the whole frame (it fits the frame border, so it never sees the mask). ``cutout_confidence``
combines the signals (:attr:`CutoutSignals.confidence`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.imaging import rgb_to_lab
from pipeline.score.inputs import check_image_and_mask
from pipeline.segment.background import fit_background, shadow_like

WORK_SIDE = 1024  # long side the signals are computed at (1 MP photos: full resolution)
BG_SIDE = 256  # long side of the copy the backdrop surface is fitted on
MARGIN_PX = 16
EDGE_TOL_PX = 2.0
EDGE_MIN = 1.2  # grey levels per pixel (0..255)
EDGE_K = 2.5
IN_BAND = (2.0, 4.0)
OUT_BAND = (2.0, 5.0)
BG_DE_MIN = 2.0
BG_DE_K = 2.5
OUT_DE = 6.0
CUT_DE = 8.0  # ΔE76: inside and outside the outline "the same colour"
CUT_WIN = 5  # px at half resolution: the window of the local colour means
CONTINUE_BG_K = 1.5  # x the backdrop threshold: the outside is "not backdrop" for continues_out
BASE_FRAC = 0.2  # the base: the outline in the lowest 20% of the mask's height
# Each signal's scale in the confidence; the default gate limits (configs/default.yaml) equal them,
# so one signal at its limit alone gives confidence 0.5.
CONFIDENCE_SCALES = {"edge_off": 0.25, "base_off": 0.20, "backdrop_in": 0.30, "product_out": 0.70,
                     "cut_through": 0.012, "continues_out": 0.012}


@dataclass(frozen=True)
class CutoutSignals:
    """The signals in [0, 1] (see the module docstring); larger is worse for every one."""

    edge_off: float
    base_off: float
    backdrop_in: float
    product_out: float
    cut_through: float = 0.0
    continues_out: float = 0.0

    @property
    def confidence(self) -> float:
        """``exp(-ln 2 * z²)`` in (0, 1], z² = Σ (signal / its scale)² (:data:`CONFIDENCE_SCALES`):
        1 for a perfect cut-out, 0.5 when one signal sits at its scale, lower as evidence adds up."""
        z2 = sum((getattr(self, name) / scale) ** 2 for name, scale in CONFIDENCE_SCALES.items())
        return float(math.exp(-math.log(2.0) * z2))

    def as_metrics(self) -> dict[str, float]:
        return {"cutout_edge_off": self.edge_off, "cutout_base_off": self.base_off,
                "cutout_backdrop_in": self.backdrop_in,
                "cutout_product_out": self.product_out, "cutout_cut_through": self.cut_through,
                "cutout_continues_out": self.continues_out, "cutout_confidence": self.confidence}


def _resize(img: np.ndarray, scale: float, interp: int) -> np.ndarray:
    if scale >= 1.0:
        return img
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def cutout_signals(rgb: np.ndarray, mask: np.ndarray) -> CutoutSignals:
    """Signals of ``mask`` (HW bool, not empty) as a cut-out of ``rgb`` (HWC uint8, same HW).

    Raises ``ValueError`` naming the argument on a wrong shape or dtype, or an empty mask.
    """
    check_image_and_mask(rgb, mask, "rgb")
    h, w = mask.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    small_rgb = _resize(rgb, scale, cv2.INTER_AREA)
    mask = np.ascontiguousarray(mask)
    small_mask = _resize(mask.view(np.uint8), scale, cv2.INTER_NEAREST).view(bool) if scale < 1 else mask
    if not small_mask.any():
        small_mask = _resize(mask.astype(np.float32), scale, cv2.INTER_AREA) > 0
    sh, sw = small_mask.shape

    # Backdrop surface, fitted on the frame border of a small copy.
    bg_scale = min(1.0, BG_SIDE / max(sh, sw))
    tiny = _resize(small_rgb, bg_scale, cv2.INTER_AREA)
    bg = fit_background(rgb_to_lab(tiny), tiny)
    noise = max(float(bg.noise), 0.3)

    # Crop around the mask.
    x, y, bw, bh = cv2.boundingRect(small_mask.view(np.uint8))
    y0, y1 = max(0, y - MARGIN_PX), min(sh, y + bh + MARGIN_PX)
    x0, x1 = max(0, x - MARGIN_PX), min(sw, x + bw + MARGIN_PX)
    m8 = np.ascontiguousarray(small_mask[y0:y1, x0:x1]).view(np.uint8)
    m = m8.view(bool)
    crop = np.ascontiguousarray(small_rgb[y0:y1, x0:x1])
    at_frame = _frame_sides(m.shape, (y0 == 0, y1 == sh, x0 == 0, x1 == sw))
    far = ~_dilate(m8, 8) & _dilate(m8, 16)  # backdrop near the product, for the gradient noise
    edges = _edges(crop, far)

    # 1. Outline on an edge.
    outline = m & ~cv2.erode(m8, np.ones((3, 3), np.uint8)).view(bool) & ~at_frame
    near_edge = _dilate(edges.view(np.uint8), int(math.ceil(EDGE_TOL_PX)), disc=True)
    n_line = int(np.count_nonzero(outline))
    edge_off = float(np.count_nonzero(outline & ~near_edge)) / n_line if n_line else 0.0
    # 1b. The same along the base, where kept shadows and reflections attach.
    rows = np.flatnonzero(m.any(axis=1))
    base = outline.copy()
    base[: int(rows[-1] - BASE_FRAC * (rows[-1] - rows[0]))] = False
    n_base = int(np.count_nonzero(base))
    base_off = float(np.count_nonzero(base & ~near_edge)) / n_base if n_base >= 8 else 0.0

    # Lab colours and the backdrop surface, only where the bands need them.
    def band_lab(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ys, xs = np.nonzero(band)
        px = rgb_to_lab(crop[ys, xs][None])[0]
        ty = np.minimum(((ys + y0) * (tiny.shape[0] / sh)).astype(np.intp), tiny.shape[0] - 1)
        tx = np.minimum(((xs + x0) * (tiny.shape[1] / sw)).astype(np.intp), tiny.shape[1] - 1)
        return px, bg.lab[ty, tx]

    # 2. Backdrop inside the outline.
    t_bg = max(BG_DE_MIN, BG_DE_K * noise)
    band_in = _erode(m8, int(IN_BAND[0]) - 1) & ~_erode(m8, int(IN_BAND[1])) & ~at_frame
    px, ref = band_lab(band_in)
    backdrop_in = float(np.mean(_delta_e(px, ref) < t_bg)) if px.shape[0] else 0.0

    # 3. Product outside the outline: clearly not backdrop, and not a smooth shadow.
    band_out = _dilate(m8, int(OUT_BAND[1]), disc=True) & ~_dilate(m8, int(OUT_BAND[0]) - 1, disc=True) & ~at_frame
    px, ref = band_lab(band_out)
    if px.shape[0]:
        unlike = _delta_e(px, ref) > max(OUT_DE, 3.0 * t_bg)
        shadow = shadow_like(px[None], ref[None])[0] & ~near_edge[band_out]
        product_out = float(np.mean(unlike & ~shadow))
    else:
        product_out = 0.0
    in_mean, out_mean, far_mean = _side_means(crop, m8)
    cut_through = _cut_through(in_mean, out_mean, m8, outline & ~near_edge, bg.rgb, max(OUT_DE, 3.0 * t_bg))
    # 5. The product continuing past the outline (above the base), judged against the surface.
    above = outline & ~near_edge & ~base
    continues_out = 0.0
    if above.any() and n_line:
        ys, xs = np.nonzero(above)
        ty = np.minimum(((ys + y0) * (tiny.shape[0] / sh)).astype(np.intp), tiny.shape[0] - 1)
        tx = np.minimum(((xs + x0) * (tiny.shape[1] / sw)).astype(np.intp), tiny.shape[1] - 1)
        a, b, c = _at_half(in_mean, ys, xs), _at_half(out_mean, ys, xs), _at_half(far_mean, ys, xs)
        ref = bg.lab[ty, tx]
        same = (_delta_e(a, b) < CUT_DE) & (_delta_e(a, c) < CUT_DE)
        not_bg = (_delta_e(b, ref) > CONTINUE_BG_K * t_bg) & (_delta_e(c, ref) > CONTINUE_BG_K * t_bg)
        continues_out = float(np.count_nonzero(same & not_bg)) / n_line
    return CutoutSignals(edge_off=edge_off, base_off=base_off, backdrop_in=backdrop_in, product_out=product_out,
                         cut_through=cut_through, continues_out=continues_out)


def _side_means(crop: np.ndarray, m8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-resolution (h/2, w/2, 3) float32 Lab: the local mean colour (``CUT_WIN`` window) of the
    band 2-4 px inside the outline, of the band 2-5 px outside it and of the band 7-10 px outside
    it (crop pixels)."""
    half = (max(1, crop.shape[1] // 2), max(1, crop.shape[0] // 2))
    lab = rgb_to_lab(cv2.resize(crop, half, interpolation=cv2.INTER_AREA))
    m_h = cv2.resize(m8, half, interpolation=cv2.INTER_NEAREST)
    inner = (_erode(m_h, 1) & ~_erode(m_h, 2)).astype(np.float32)
    outer = (_dilate(m_h, 3, disc=True) & ~_dilate(m_h, 1, disc=True)).astype(np.float32)
    far = (_dilate(m_h, 5, disc=True) & ~_dilate(m_h, 3, disc=True)).astype(np.float32)
    k = (CUT_WIN, CUT_WIN)

    def local_mean(band: np.ndarray, k: tuple[int, int]) -> np.ndarray:
        return cv2.blur(lab * band[..., None], k) / np.maximum(cv2.blur(band, k), 1e-3)[..., None]

    wide = (2 * CUT_WIN + 1, 2 * CUT_WIN + 1)  # reaches the far band from the outline
    return local_mean(inner, k), local_mean(outer, k), local_mean(far, wide)


def _at_half(img: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(N, C) values of a half-resolution image at full-resolution crop pixels (ys, xs)."""
    return img[np.minimum(ys // 2, img.shape[0] - 1), np.minimum(xs // 2, img.shape[1] - 1)]


def _cut_through(in_mean: np.ndarray, out_mean: np.ndarray, m8: np.ndarray, off_edge: np.ndarray,
                 bg_rgb: tuple[float, float, float], min_de: float) -> float:
    """Share of the outline that cuts through a uniform part of the product: off any edge, the
    colour just outside (2-5 px) the same as just inside (2-4 px, within ``CUT_DE`` ΔE76), and
    not the backdrop's (over ``min_de``, and not shadow-like). ``in_mean`` / ``out_mean``: the
    half-resolution local means of :func:`_side_means`."""
    n_line = int(np.count_nonzero(m8 - cv2.erode(m8, np.ones((3, 3), np.uint8))))
    if n_line == 0 or not off_edge.any():
        return 0.0
    ys, xs = np.nonzero(off_edge)
    a, b = _at_half(in_mean, ys, xs), _at_half(out_mean, ys, xs)
    bg = rgb_to_lab(np.asarray(bg_rgb, np.float32).clip(0, 255).astype(np.uint8).reshape(1, 1, 3))[0, 0]
    same = _delta_e(a, b) < CUT_DE
    bg_rows = np.broadcast_to(bg, b.shape)
    product = (np.linalg.norm(b - bg, axis=1) > min_de) & ~shadow_like(b[None], bg_rows[None])[0]
    return float(np.count_nonzero(same & product)) / n_line


def _dilate(m8: np.ndarray, r: int, disc: bool = False) -> np.ndarray:
    """HW bool: ``m8`` (HW uint8 0/1) dilated by radius ``r`` (a square, or a disc)."""
    if r <= 0:
        return m8.astype(bool)
    shape = cv2.MORPH_ELLIPSE if disc else cv2.MORPH_RECT
    return cv2.dilate(m8, cv2.getStructuringElement(shape, (2 * r + 1, 2 * r + 1))).view(bool)


def _erode(m8: np.ndarray, r: int) -> np.ndarray:
    """HW bool: ``m8`` eroded by a disc of radius ``r`` (the frame counts as inside)."""
    if r <= 0:
        return m8.astype(bool)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(m8, k, borderType=cv2.BORDER_REPLICATE).view(bool)


def _delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3) Lab pairs -> (N,) ΔE76."""
    d = a - b
    return np.sqrt(np.einsum("ij,ij->i", d, d))


def _frame_sides(hw: tuple[int, int], sides: tuple[bool, bool, bool, bool]) -> np.ndarray:
    """HW bool: a 2 px strip along each crop side that is also the photo's border (top, bottom,
    left, right): outline there is where the photo cuts the product, not the product's edge."""
    out = np.zeros(hw, bool)
    top, bottom, left, right = sides
    if top:
        out[:2] = True
    if bottom:
        out[-2:] = True
    if left:
        out[:, :2] = True
    if right:
        out[:, -2:] = True
    return out


def _edges(rgb: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """HW bool edges of ``rgb`` (HWC uint8): Canny (non-maximum suppressed, hysteresis, the
    strongest of the three channels per pixel) after a sigma-1 Gaussian. The low threshold is
    ``max(EDGE_MIN, EDGE_K * noise)`` grey levels per pixel, the high one twice that; noise is
    the median gradient of the lightness over ``backdrop`` (HW bool)."""
    blurred = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    idx = np.flatnonzero(backdrop.ravel())
    noise = 0.8
    if idx.size > 64:
        gray = cv2.cvtColor(blurred, cv2.COLOR_RGB2GRAY)
        gx = cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3).ravel()
        gy = cv2.Sobel(gray, cv2.CV_16S, 0, 1, ksize=3).ravel()
        idx = idx[:: max(1, idx.size // 4096)]
        noise = float(np.median(np.hypot(gx[idx].astype(np.float32), gy[idx].astype(np.float32)))) / 8.0
    low = max(EDGE_MIN, EDGE_K * noise) * 8.0
    return cv2.Canny(blurred, low, 2.0 * low, L2gradient=True) > 0
