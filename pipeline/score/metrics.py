"""score_composite: appearance-consistency metrics of one composite against the true product.

Inputs (all full-frame, same H, W):

- ``reference``: the original product warped into output coordinates. ``reference.rgb`` HWC uint8
  holds the product's true colours (undefined where alpha == 0), ``reference.alpha`` HW float32,
  ``reference.mask`` HW bool (alpha >= 0.5), ``reference.logo_boxes`` xyxy in output pixels.
- ``composite``: HWC uint8, the final image. ``plate``: HWC uint8, the scene the product was
  composited onto (backdrop with shadows, no product).
- ``source_background_rgb``: the original photo's estimated background colour, 3 floats 0..255.

Definitions (``config`` is a :class:`pipeline.config.ScoreConfig`):

- core = mask eroded by ``edge_erode_px`` (a disc; the mask itself if erosion empties it).
- expected = ``alpha * reference.rgb + (1 - alpha) * plate`` (the ideal composite; equal to the
  reference inside the opaque product). SSIM windows reach past the core edge, where
  ``reference.rgb`` is undefined, so SSIM compares against ``expected``.
- delta_e00_mean / delta_e00_p95: CIEDE2000 between composite and reference.rgb over the opaque
  core: core pixels whose alpha is at least ``OPAQUE_ALPHA`` (the core itself if none is). Where
  alpha < 1 the composite blends in the scene by design (a product upscaled 30x from a 32 px
  photo has a soft edge 30 px wide, wider than any erosion): that is the halo's business.
- ssim: mean luminance SSIM map (Gaussian window, sigma 1.5) of composite vs expected over core.
- logo_ssim_min: per logo box (clipped to the frame; boxes under 4 px a side skipped), mean SSIM
  of composite vs expected over the box; the minimum over boxes; None when no box is scored.
- expansion: new product-coloured pixels grown outside the mask / mask area
  (:mod:`pipeline.score.resegment`).
- halo: mean leaked-background ΔE00 in the ring 1..``halo_band_px`` outside the mask
  (:mod:`pipeline.score.halo`).

Everything is computed in a crop around the product (bbox + ``2*expansion_band_px`` + the SSIM
window), never on the whole frame.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from pipeline.config import GateConfig, ScoreConfig
from pipeline.score import pixels
from pipeline.score.color import delta_e00_srgb
from pipeline.score.cutout import CutoutSignals
from pipeline.score.geometry import product_geometry
from pipeline.score.halo import expected_composite, halo_score
from pipeline.score.resegment import expansion_mask, expansion_ratio
from pipeline.score.scene_checks import SceneSignals
from pipeline.score.ssim import RADIUS, masked_ssim

# Alpha from which a product pixel counts as opaque for ΔE00: blending with any scene then moves an
# 8-bit channel by less than half a level, so the exact-mode composite equals the photo there.
OPAQUE_ALPHA = 1.0 - 0.5 / 255.0
from pipeline.types import BoxXYXY, Metrics, PlacedProduct

logger = logging.getLogger(__name__)

CROP_SLACK_PX = 2  # px: extra crop margin past the outer expansion ring and the SSIM window
MIN_LOGO_SIDE = 4  # px (output): a logo box narrower than this inside the frame is not scored


def score_composite(
    reference: PlacedProduct,
    composite: np.ndarray,
    plate: np.ndarray,
    source_background_rgb: tuple[float, float, float],
    config: ScoreConfig,
) -> Metrics:
    """Metrics of ``composite`` against ``reference`` (see the module docstring for definitions).

    Raises ``ValueError`` naming the argument on wrong shapes, dtypes, ranges or an empty mask.
    """
    # 1. Validate.
    _check_inputs(reference, composite, plate, source_background_rgb, config)

    # 2. The crop around the product, and the images in it.
    margin = 2 * config.expansion_band_px + RADIUS + CROP_SLACK_PX
    geom = product_geometry(reference.alpha, reference.mask, margin)
    ref_c = geom.crop(reference.rgb)
    comp_c = geom.crop(composite)
    plate_c = geom.crop(plate)
    expected_c = expected_composite(ref_c, geom.alpha, plate_c)

    # 3. Colour and structure over the core.
    core = geom.core(config.edge_erode_px)
    opaque = core & (geom.alpha >= OPAQUE_ALPHA)
    de_mean, de_p95 = _delta_e_stats(comp_c, ref_c, opaque if opaque.any() else core)
    ssim = masked_ssim(comp_c, expected_c, core)

    # 4. Logo regions.
    logo_min = _logo_ssim_min(reference, composite, plate)

    # 5. Growth into the scene, and background leaking around the edge.
    grown = expansion_mask(geom, ref_c, comp_c, plate_c, config.expansion_band_px, expected=expected_c)
    expansion = expansion_ratio(grown, geom.mask)
    ring = geom.ring_out(1.0, float(config.halo_band_px))
    halo = halo_score(comp_c, expected_c, ring, source_background_rgb)

    return Metrics(
        delta_e00_mean=de_mean,
        delta_e00_p95=de_p95,
        ssim=ssim,
        logo_ssim_min=logo_min,
        expansion=expansion,
        halo=halo,
    )


def with_checks(metrics: Metrics, cutout: CutoutSignals | None, scene: SceneSignals | None, gate: GateConfig,
                frame_cut: float | None = None) -> Metrics:
    """``metrics`` with the cut-out signals (their confidence under ``gate``'s limits), the scene
    checks and the composition check filled in (None: left unset)."""
    extra: dict[str, float | None] = {}
    if cutout is not None:
        extra.update(cutout.as_metrics(gate))
    if scene is not None:
        extra.update(scene.as_metrics())
    if frame_cut is not None:
        extra["composition_frame_cut"] = frame_cut
    return dataclasses.replace(metrics, **extra)


def _check_image(name: str, image: object, hw: tuple[int, int] | None) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{type(image).__name__} shape {getattr(image, 'shape', None)} dtype {getattr(image, 'dtype', None)}"
        raise ValueError(f"{name} must be an HxWx3 uint8 RGB array, got {got}")
    if hw is not None and image.shape[:2] != hw:
        raise ValueError(f"{name} must have the reference's (H, W) = {hw}, got {image.shape[:2]}")


def _check_inputs(
    reference: PlacedProduct,
    composite: np.ndarray,
    plate: np.ndarray,
    source_background_rgb: tuple[float, float, float],
    config: ScoreConfig,
) -> None:
    if not isinstance(reference, PlacedProduct):
        raise ValueError(f"reference must be a PlacedProduct, got {type(reference).__name__}")
    if not isinstance(config, ScoreConfig):
        raise ValueError(f"config must be a ScoreConfig, got {type(config).__name__}")
    _check_image("reference.rgb", reference.rgb, None)
    hw = reference.rgb.shape[:2]
    alpha, mask = reference.alpha, reference.mask
    if not isinstance(alpha, np.ndarray) or alpha.shape != hw or not np.issubdtype(alpha.dtype, np.floating):
        got = f"shape {getattr(alpha, 'shape', None)} dtype {getattr(alpha, 'dtype', None)}"
        raise ValueError(f"reference.alpha must be an HxW float array in [0, 1] with H, W = {hw}, got {got}")
    if not isinstance(mask, np.ndarray) or mask.shape != hw or mask.dtype != np.bool_:
        got = f"shape {getattr(mask, 'shape', None)} dtype {getattr(mask, 'dtype', None)}"
        raise ValueError(f"reference.mask must be an HxW bool array with H, W = {hw}, got {got}")
    _check_image("composite", composite, hw)
    _check_image("plate", plate, hw)
    try:
        bg = [float(v) for v in source_background_rgb]
    except (TypeError, ValueError):
        raise ValueError(
            f"source_background_rgb must be 3 numbers in [0, 255], got {source_background_rgb!r}"
        ) from None
    if len(bg) != 3 or not all(math.isfinite(v) and 0.0 <= v <= 255.0 for v in bg):
        raise ValueError(f"source_background_rgb must be 3 numbers in [0, 255], got {source_background_rgb!r}")


def _delta_e_stats(composite: np.ndarray, reference: np.ndarray, core: np.ndarray) -> tuple[float, float]:
    """(mean, p95) of ΔE00 over ``core``; only pixels whose RGB differ are converted (others are 0)."""
    n = int(np.count_nonzero(core))
    differs = core & pixels.differ(composite, reference)
    m = int(np.count_nonzero(differs))
    if m == 0:
        return 0.0, 0.0
    de = delta_e00_srgb(pixels.gather(composite, differs), pixels.gather(reference, differs))
    mean = float(np.sum(de, dtype=np.float64) / n)
    return mean, _percentile_with_zeros(de, n - m, 95.0)


def _percentile_with_zeros(values: np.ndarray, n_zeros: int, q: float) -> float:
    """np.percentile (linear) of ``values`` (all >= 0) padded with ``n_zeros`` zeros, without padding."""
    n = values.size + n_zeros
    pos = q / 100.0 * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    needed = sorted({max(lo - n_zeros, 0), max(hi - n_zeros, 0)})
    part = np.partition(values, needed)

    def order_stat(i: int) -> float:
        return 0.0 if i < n_zeros else float(part[i - n_zeros])

    frac = pos - lo
    return order_stat(lo) + (order_stat(hi) - order_stat(lo)) * frac


def _logo_ssim_min(reference: PlacedProduct, composite: np.ndarray, plate: np.ndarray) -> float | None:
    height, width = composite.shape[:2]
    scores = []
    for box in reference.logo_boxes:
        clipped = _clip_box(box, width, height)
        if clipped is None:
            continue
        x0, y0, x1, y1 = clipped
        # The box plus the SSIM window's reach, so the box edge sees real context.
        cy0, cy1 = max(0, y0 - RADIUS), min(height, y1 + RADIUS)
        cx0, cx1 = max(0, x0 - RADIUS), min(width, x1 + RADIUS)
        win = (slice(cy0, cy1), slice(cx0, cx1))
        expected = expected_composite(reference.rgb[win], reference.alpha[win], plate[win])
        inside = np.zeros((cy1 - cy0, cx1 - cx0), dtype=bool)
        inside[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = True
        scores.append(masked_ssim(composite[win], expected, inside))
    if not scores:
        return None
    return float(min(scores))


def _clip_box(box: BoxXYXY, width: int, height: int) -> BoxXYXY | None:
    """The box clipped to the frame, or None if under ``MIN_LOGO_SIDE`` px on a side after clipping."""
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, x1 = max(0, x0), min(width, x1)
    y0, y1 = max(0, y0), min(height, y1)
    if x1 - x0 < MIN_LOGO_SIDE or y1 - y0 < MIN_LOGO_SIDE:
        logger.debug("logo box %s skipped: under %d px a side inside the frame", box, MIN_LOGO_SIDE)
        return None
    return x0, y0, x1, y1
