"""Pictures for the review page, all in the composite's frame (output pixels).

- :func:`to_frame`: an input-resolution image resampled by an item's placement matrix.
- :func:`original_in_frame`: the input photo in the composite's frame (written by the batch as
  ``original.png``), so original and composite can be compared pixel for pixel.
- :func:`mask_edge_overlay`: the segmentation mask's outline as an RGBA overlay.
- :func:`delta_e_heatmap`: where CIEDE2000 between composite and original is high on the product.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.score import pixels
from pipeline.score.color import delta_e00_srgb
from pipeline.types import PlacedProduct

EDGE_RGB = (255, 0, 200)     # magenta: visible on white backdrops and on most products
HEAT_LOW, HEAT_HIGH = 1.0, 10.0  # ΔE00 under HEAT_LOW is not drawn; HEAT_HIGH and above is full red


def check_matrix(matrix: object) -> np.ndarray:
    """A 2x3 float64 affine matrix with positive finite scales; ``ValueError`` otherwise."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3) or not np.isfinite(m).all() or m[0, 0] <= 0 or m[1, 1] <= 0:
        raise ValueError(f"placement matrix must be 2x3 with positive scales, got {matrix!r}")
    return m


def to_frame(image: np.ndarray, matrix: object, out_hw: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Resample ``image`` (HW or HWC uint8, input pixels) into the ``out_hw`` frame by ``matrix``
    (2x3, input -> output pixels, scale + translation). Shrinking averages areas first, so thin
    lines do not alias; outside the image the border pixels are repeated."""
    m = check_matrix(matrix)
    out_h, out_w = (int(v) for v in out_hw)
    h, w = image.shape[:2]
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    if not nearest and (m[0, 0] < 1 or m[1, 1] < 1):
        nw, nh = max(1, round(w * m[0, 0])), max(1, round(h * m[1, 1]))
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        m = m.copy()
        m[0, 0] *= w / nw
        m[1, 1] *= h / nh
    return cv2.warpAffine(image, m, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def original_in_frame(rgb: np.ndarray, placed: PlacedProduct) -> np.ndarray:
    """The input photo (HWC uint8 RGB, input resolution) in the composite's frame: HWC uint8 RGB of
    ``placed.placement.out_hw``. Where the placed product is opaque its pixels are the placed
    product's own (the reference the metrics compare against), so in ``exact`` mode the product
    matches the composite pixel for pixel and any difference a reviewer sees is real."""
    frame = to_frame(rgb, placed.placement.matrix, placed.placement.out_hw)
    opaque = placed.alpha >= 254.5 / 255.0
    frame[opaque] = placed.rgb[opaque]
    return frame


def mask_in_frame(mask: np.ndarray, matrix: object, out_hw: tuple[int, int]) -> np.ndarray:
    """``mask.png`` (HW uint8, 255 = product, input resolution) in the output frame: HW bool."""
    if mask.ndim == 3:
        mask = mask[..., 0]
    return to_frame(mask, matrix, out_hw) >= 128


def mask_edge_overlay(mask: np.ndarray, width_px: int = 2) -> np.ndarray:
    """The outline of ``mask`` (HW bool) as HxWx4 uint8 RGBA: ``EDGE_RGB`` on the boundary band
    (``width_px`` wide, on the product side), transparent elsewhere."""
    m8 = mask.astype(np.uint8)
    inner = cv2.erode(m8, np.ones((2 * width_px + 1, 2 * width_px + 1), np.uint8), borderType=cv2.BORDER_REPLICATE)
    edge = (m8 > 0) & (inner == 0)
    out = np.zeros((*mask.shape, 4), np.uint8)
    out[edge] = (*EDGE_RGB, 255)
    return out


def product_core(mask: np.ndarray, erode_px: int) -> np.ndarray:
    """``mask`` (HW bool) eroded by a disc of ``erode_px``; the mask itself if that empties it."""
    if erode_px <= 0:
        return mask
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
    core = cv2.erode(mask.astype(np.uint8), disc) > 0
    return core if core.any() else mask


def delta_e_map(composite: np.ndarray, original: np.ndarray, region: np.ndarray) -> np.ndarray:
    """CIEDE2000 per pixel (HW float32, 0 outside ``region`` and where the RGB is equal) between
    two HWC uint8 RGB images of one size."""
    if composite.shape != original.shape or composite.ndim != 3 or composite.shape[2] != 3:
        raise ValueError(f"composite and original must be HxWx3 of one size, got {composite.shape} and "
                         f"{original.shape}")
    out = np.zeros(composite.shape[:2], np.float32)
    differs = region & pixels.differ(composite, original)
    if differs.any():
        out[differs] = delta_e00_srgb(pixels.gather(composite, differs), pixels.gather(original, differs))
    return out


def delta_e_heatmap(de: np.ndarray) -> np.ndarray:
    """A ΔE00 map (HW float32) as HxWx4 uint8 RGBA: transparent under ``HEAT_LOW``, then yellow
    through orange to red at ``HEAT_HIGH`` and above, more opaque as ΔE00 grows."""
    t = np.clip((de - HEAT_LOW) / (HEAT_HIGH - HEAT_LOW), 0.0, 1.0)
    shown = de >= HEAT_LOW
    out = np.zeros((*de.shape, 4), np.uint8)
    out[..., 0] = 255
    out[..., 1] = np.round(230 * (1.0 - t)).astype(np.uint8)
    out[..., 2] = 0
    out[..., 3] = np.where(shown, np.round(90 + 110 * t), 0).astype(np.uint8)  # the product shows through
    return out
