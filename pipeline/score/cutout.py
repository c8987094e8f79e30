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
- ``cutout_mirror``: share of the mask that is a mirror image of the product under a horizontal
  line in its lower part, fainter than the product (a kept floor reflection;
  :mod:`pipeline.score.cutout_mirror`).
- ``cutout_backdrop_gap``: share of the mask, off every edge and 2 px or more inside the
  outline, in sizeable regions of the backdrop surface's colour (a see-through gap filled;
  :mod:`pipeline.score.cutout_regions`).
- ``cutout_panel_hole``: share of the mask's area in enclosed holes with a straight rim and print
  inside (a printed white panel cut out as a hole; same module).
- ``cutout_disagreement``: the share where two independent segmenters disagree, when the
  segmenter reports it (``Segmentation.info["disagreement"]``); None otherwise.
- ``cutout_unstable``: the classical segmenter's second look, cut again at a smaller work size:
  the share of the cut-out that changes (:mod:`pipeline.score.cutout_stability`); only for the
  classical segmenter's own mask (None otherwise; ``with_stability``). It is judged by its own
  limit only, not in ``cutout_confidence`` (``ALONE_LIMITS``).
The backdrop surface is :func:`pipeline.segment.background.fit_background` on a small copy of
the whole frame (it fits the frame border, so it never sees the mask). ``cutout_confidence``
combines the signals, each scaled by its limit in the gate (:func:`cutout_confidence`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.config import GateConfig
from pipeline.imaging import rgb_to_lab
from pipeline.score.cutout_mirror import mirror_below_base
from pipeline.score.cutout_regions import backdrop_gap, panel_holes
from pipeline.score.inputs import check_image_and_mask
from pipeline.segment.background import fit_background, shadow_like

# --- Named constants (one block; "px" are pixels at the work size, WORK_SIDE long side at most).
# Chosen on the clean composites of bench/gate_eval.py (true masks of the real photos and the
# generated samples) unless said otherwise; the gate's limits on the signals live in GateConfig.
WORK_SIDE = 1024  # px: long side the signals are computed at (1 MP photos: full resolution)
BG_SIDE = 256  # px: long side of the copy the backdrop surface is fitted on (a quadratic: smooth)
MARGIN_PX = 16  # px: crop margin around the mask; must exceed the widest band below (FAR_BAND)
NOISE_FLOOR = 0.3  # ΔE76: the least backdrop noise assumed (a clipped 255 backdrop reads 0)
EDGE_TOL_PX = 2.0  # px: an outline pixel within this of a Canny edge is "on an edge"
EDGE_MIN = 1.2  # grey levels per pixel (0..255): the least Canny low threshold
EDGE_K = 2.5  # x the backdrop's median gradient: Canny low threshold above the noise
EDGE_NOISE_DEFAULT = 0.8  # grey levels per pixel: gradient noise assumed when the backdrop band is tiny
EDGE_NOISE_SAMPLES = 4096  # backdrop pixels sampled for that median
EDGE_NOISE_MIN_PX = 64  # backdrop pixels needed to read the noise at all
SOBEL3_GAIN = 8.0  # a 3x3 Sobel's response to a unit step (grey levels per pixel -> Sobel units)
NOISE_BAND = (8, 16)  # px outside the outline: the backdrop band the gradient noise is read in
IN_BAND = (2.0, 4.0)  # px inside the outline: the band backdrop_in reads
OUT_BAND = (2.0, 5.0)  # px outside the outline: the band product_out reads
BG_DE_MIN = 2.0  # ΔE76: the least "same as the backdrop" threshold
BG_DE_K = 2.5  # x the backdrop noise: "same as the backdrop" threshold above it
OUT_DE = 6.0  # ΔE76: the least "clearly not backdrop" distance (also 3x the backdrop threshold)
OUT_DE_K = 3.0  # x the backdrop threshold: "clearly not backdrop"
MIN_BASE_PX = 8  # outline pixels: a base shorter than this is not judged (base_off = 0)
CUT_DE = 8.0  # ΔE76: inside and outside the outline "the same colour"
CUT_WIN = 5  # px at half resolution: the window of the local colour means
# px at half resolution (erosion / dilation radii): the bands 2-4 px inside, 2-5 px outside and
# 7-10 px outside the outline (full-resolution px) whose local means cut_through and continues_out compare.
SIDE_BANDS_HALF = ((1, 2), (1, 3), (3, 5))
CONTINUE_BG_K = 1.5  # x the backdrop threshold: the outside is "not backdrop" for continues_out
BASE_FRAC = 0.2  # the base: the outline in the lowest 20% of the mask's height
# Which GateConfig limit scales each signal in the confidence: one signal at its limit alone gives
# confidence 0.5, whatever the limits are set to (issue 17: the scales used to be copies).
CONFIDENCE_LIMITS = {"edge_off": "cutout_edge_off_max", "base_off": "cutout_base_off_max",
                     "backdrop_in": "cutout_backdrop_in_max", "product_out": "cutout_product_out_max",
                     "cut_through": "cutout_cut_through_max", "continues_out": "cutout_continues_out_max",
                     "mirror": "cutout_mirror_max", "backdrop_gap": "cutout_backdrop_gap_max",
                     "panel_hole": "cutout_panel_hole_max", "disagreement": "cutout_disagreement_max"}
# Signals judged by their own limit only, not summed into the confidence. cutout_unstable: it is
# measured only on the classical segmenter's own cut-outs (not on the true-mask and injected-defect
# cut-outs the confidence limit is fitted with), and good cut-outs read close to its limit (up to
# 2.8% under a fitted 3-4%), so in the sum it failed a good cut-out held out by bench/gate_fit.py
# (ck_sneaker_side, 4 of 4 folds) together with signals well inside their own limits; alone it
# fails none (docs/gate.md).
ALONE_LIMITS = {"unstable": "cutout_unstable_max"}
SIGNAL_LIMITS = {**CONFIDENCE_LIMITS, **ALONE_LIMITS}  # every cut-out signal and its GateConfig limit


@dataclass(frozen=True)
class CutoutSignals:
    """The signals in [0, 1] (see the module docstring); larger is worse for every one.
    ``disagreement`` is None unless the segmenter reported one (``Segmentation.info``);
    ``unstable`` is None unless the gate took a second look (``with_stability``)."""

    edge_off: float
    base_off: float
    backdrop_in: float
    product_out: float
    cut_through: float = 0.0
    continues_out: float = 0.0
    mirror: float = 0.0
    backdrop_gap: float = 0.0
    panel_hole: float = 0.0
    disagreement: float | None = None
    unstable: float | None = None

    def with_disagreement(self, value: float | None) -> CutoutSignals:
        """A copy carrying the segmenters' disagreement (a share in [0, 1], or None)."""
        return dataclasses.replace(self, disagreement=_share_or_none("disagreement", value))

    def with_stability(self, value: float | None) -> CutoutSignals:
        """A copy carrying the segmenter's second look (``cutout_unstable``: a share in [0, 1], or None)."""
        return dataclasses.replace(self, unstable=_share_or_none("unstable", value))

    def confidence(self, gate: GateConfig) -> float:
        """:func:`cutout_confidence` of these signals under ``gate``'s limits."""
        return cutout_confidence({f"cutout_{k}": getattr(self, k) for k in CONFIDENCE_LIMITS}, gate)

    def as_metrics(self, gate: GateConfig) -> dict[str, float | None]:
        """The ``Metrics`` fields: every signal as ``cutout_<name>``, and the confidence under ``gate``."""
        out: dict[str, float | None] = {f"cutout_{k}": getattr(self, k) for k in SIGNAL_LIMITS}
        out["cutout_confidence"] = self.confidence(gate)
        return out


def _share_or_none(name: str, value: float | None) -> float | None:
    if value is not None and not (isinstance(value, int | float) and 0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be a share in [0, 1] or None, got {value!r}")
    return None if value is None else float(value)


def cutout_confidence(metrics: Mapping[str, float | None], gate: GateConfig) -> float:
    """``exp(-ln 2 * z²)`` in (0, 1], z² = Σ (signal / its limit in ``gate``)² over the cut-out
    signals present in ``metrics`` (``cutout_<name>`` keys, None skipped; limits per
    :data:`CONFIDENCE_LIMITS`): 1 for a perfect cut-out, 0.5 when one signal sits at its limit,
    lower as evidence adds up. A limit of 0 makes any positive signal count as infinitely far."""
    z2 = 0.0
    for name, field in CONFIDENCE_LIMITS.items():
        value = metrics.get(f"cutout_{name}")
        if value is None or value <= 0.0:
            continue
        limit = float(getattr(gate, field))
        z2 += math.inf if limit <= 0.0 else (float(value) / limit) ** 2
    return float(math.exp(-math.log(2.0) * z2))


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
    noise = max(float(bg.noise), NOISE_FLOOR)

    # Crop around the mask.
    x, y, bw, bh = cv2.boundingRect(small_mask.view(np.uint8))
    y0, y1 = max(0, y - MARGIN_PX), min(sh, y + bh + MARGIN_PX)
    x0, x1 = max(0, x - MARGIN_PX), min(sw, x + bw + MARGIN_PX)
    m8 = np.ascontiguousarray(small_mask[y0:y1, x0:x1]).view(np.uint8)
    m = m8.view(bool)
    crop = np.ascontiguousarray(small_rgb[y0:y1, x0:x1])
    at_frame = _frame_sides(m.shape, (y0 == 0, y1 == sh, x0 == 0, x1 == sw))
    far = ~_dilate(m8, NOISE_BAND[0]) & _dilate(m8, NOISE_BAND[1])  # backdrop near the product
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
    base_off = float(np.count_nonzero(base & ~near_edge)) / n_base if n_base >= MIN_BASE_PX else 0.0

    # Lab colours and the backdrop surface, only where the bands need them.
    def to_tiny(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ty = np.minimum(((ys + y0) * (tiny.shape[0] / sh)).astype(np.intp), tiny.shape[0] - 1)
        tx = np.minimum(((xs + x0) * (tiny.shape[1] / sw)).astype(np.intp), tiny.shape[1] - 1)
        return ty, tx

    def band_lab(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ys, xs = np.nonzero(band)
        px = rgb_to_lab(crop[ys, xs][None])[0]
        return px, bg.lab[to_tiny(ys, xs)]

    # 2. Backdrop inside the outline.
    t_bg = max(BG_DE_MIN, BG_DE_K * noise)
    t_out = max(OUT_DE, OUT_DE_K * t_bg)
    band_in = _erode(m8, int(IN_BAND[0]) - 1) & ~_erode(m8, int(IN_BAND[1])) & ~at_frame
    px, ref = band_lab(band_in)
    backdrop_in = float(np.mean(_delta_e(px, ref) < t_bg)) if px.shape[0] else 0.0

    # 3. Product outside the outline: clearly not backdrop, and not a smooth shadow.
    band_out = _dilate(m8, int(OUT_BAND[1]), disc=True) & ~_dilate(m8, int(OUT_BAND[0]) - 1, disc=True) & ~at_frame
    px, ref = band_lab(band_out)
    if px.shape[0]:
        unlike = _delta_e(px, ref) > t_out
        shadow = shadow_like(px[None], ref[None])[0] & ~near_edge[band_out]
        product_out = float(np.mean(unlike & ~shadow))
    else:
        product_out = 0.0
    half = (max(1, crop.shape[1] // 2), max(1, crop.shape[0] // 2))
    lab_h = rgb_to_lab(cv2.resize(crop, half, interpolation=cv2.INTER_AREA))  # (h/2, w/2, 3) Lab
    m_h = cv2.resize(m8, half, interpolation=cv2.INTER_NEAREST)
    in_mean, out_mean, far_mean = _side_means(lab_h, m_h)
    cut_through = _cut_through(in_mean, out_mean, m8, outline & ~near_edge, bg.rgb, t_out)
    # 5. The product continuing past the outline (above the base), judged against the surface.
    above = outline & ~near_edge & ~base
    continues_out = 0.0
    if above.any() and n_line:
        ys, xs = np.nonzero(above)
        a, b, c = _at_half(in_mean, ys, xs), _at_half(out_mean, ys, xs), _at_half(far_mean, ys, xs)
        ref = bg.lab[to_tiny(ys, xs)]
        same = (_delta_e(a, b) < CUT_DE) & (_delta_e(a, c) < CUT_DE)
        not_bg = (_delta_e(b, ref) > CONTINUE_BG_K * t_bg) & (_delta_e(c, ref) > CONTINUE_BG_K * t_bg)
        continues_out = float(np.count_nonzero(same & not_bg)) / n_line
    # 6-8. A mirror image kept under the base; backdrop filling a see-through gap; a hole cut
    # into a printed panel (pipeline.score.cutout_regions).
    # They read the crop at half resolution: the regions they look for are large.
    k_x, k_y = tiny.shape[1] / sw, tiny.shape[0] / sh  # small-frame px -> tiny px
    to_surface = np.float32([[2 * k_x, 0, (x0 + 0.5) * k_x - 0.5], [0, 2 * k_y, (y0 + 0.5) * k_y - 0.5]])
    surface = cv2.warpAffine(bg.lab, to_surface, half, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)
    edges_h = cv2.resize(edges.view(np.uint8), half, interpolation=cv2.INTER_AREA) > 0
    gap = backdrop_gap(lab_h, surface, m_h, edges_h, t_bg)
    holes = panel_holes(m_h, edges_h)
    return CutoutSignals(edge_off=edge_off, base_off=base_off, backdrop_in=backdrop_in, product_out=product_out,
                         cut_through=cut_through, continues_out=continues_out,
                         mirror=mirror_below_base(lab_h[..., 0], m_h.view(bool)), backdrop_gap=gap, panel_hole=holes)


def _side_means(lab: np.ndarray, m_h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From the crop's half-resolution Lab ``lab`` (h/2, w/2, 3 float32) and mask ``m_h`` (uint8
    0/1): the local mean colour (``CUT_WIN`` window) of the band 2-4 px inside the outline, of the
    band 2-5 px outside it and of the band 7-10 px outside it (crop pixels), each (h/2, w/2, 3)."""
    (i0, i1), (o0, o1), (f0, f1) = SIDE_BANDS_HALF
    inner = (_erode(m_h, i0) & ~_erode(m_h, i1)).astype(np.float32)
    outer = (_dilate(m_h, o1, disc=True) & ~_dilate(m_h, o0, disc=True)).astype(np.float32)
    far = (_dilate(m_h, f1, disc=True) & ~_dilate(m_h, f0, disc=True)).astype(np.float32)
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
    noise = EDGE_NOISE_DEFAULT
    if idx.size > EDGE_NOISE_MIN_PX:
        gray = cv2.cvtColor(blurred, cv2.COLOR_RGB2GRAY)
        gx = cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3).ravel()
        gy = cv2.Sobel(gray, cv2.CV_16S, 0, 1, ksize=3).ravel()
        idx = idx[:: max(1, idx.size // EDGE_NOISE_SAMPLES)]
        noise = float(np.median(np.hypot(gx[idx].astype(np.float32), gy[idx].astype(np.float32)))) / SOBEL3_GAIN
    low = max(EDGE_MIN, EDGE_K * noise) * SOBEL3_GAIN
    return cv2.Canny(blurred, low, 2.0 * low, L2gradient=True) > 0
