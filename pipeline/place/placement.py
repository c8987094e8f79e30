"""Placement: where and how large the product sits in the output canvas.

The transform is a uniform scale plus an integer translation, so output and input pixels map
one to one at scale 1 and the product is never rotated or sheared.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.config import PlacementConfig
from pipeline.segment.frame_sides import cut_sides, touched_sides
from pipeline.types import BoxXYXY, Placement, PlacedProduct


def mask_bbox(mask: np.ndarray) -> BoxXYXY:
    """Tight (x0, y0, x1, y1) of a non-empty HW bool mask, x1/y1 exclusive."""
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    if rows.size == 0:
        raise ValueError("mask is empty: nothing to place")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def compute_placement(mask: np.ndarray, config: PlacementConfig, photo: np.ndarray | None = None) -> Placement:
    """Scale and offset for a product with input mask ``mask`` (HW bool) cut out of ``photo``
    (HWC uint8, same HW).

    The product's bbox long side becomes ``product_scale`` of the canvas (bounded by the
    margins); the anchor decides the position. A product cut by the photo's frame is made
    flush with the same canvas side, so the cut never floats in the scene; which sides cut it is
    :func:`pipeline.segment.frame_sides.cut_sides` (the photo must show product there, not a kept
    shadow or backdrop running to the edge). Without ``photo`` (a file's own alpha, which is
    trusted) every side the mask touches counts. The sides laid flush are
    ``Placement.cut_sides``.
    """
    out_w, out_h = config.output_wh()
    x0, y0, x1, y1 = mask_bbox(mask)
    bw, bh = x1 - x0, y1 - y0
    m = config.margin
    scale = config.product_scale * min(out_w, out_h) / max(bw, bh)
    scale = min(scale, (1 - 2 * m) * out_w / bw, (1 - 2 * m) * out_h / bh)
    sw, sh = max(1, round(bw * scale)), max(1, round(bh * scale))
    horizon = round(config.horizon * out_h)
    cx = (out_w - sw) // 2
    if config.anchor == "center":
        ty = (out_h - sh) // 2
    else:
        base = min(out_h - round(m * out_h), horizon + round(0.55 * (out_h - horizon)))
        ty = max(round(m * out_h), base - sh)
    if config.anchor == "left":
        cx = round(m * out_w)
    elif config.anchor == "right":
        cx = out_w - round(m * out_w) - sw
    cut = touched_sides(mask) if photo is None else cut_sides(photo, mask)
    if "bottom" in cut:
        ty = out_h - sh
    elif "top" in cut:
        ty = 0
    if "left" in cut and "right" not in cut:
        cx = 0
    elif "right" in cut and "left" not in cut:
        cx = out_w - sw
    sx, sy = sw / bw, sh / bh
    matrix = np.array([[sx, 0.0, cx - sx * x0], [0.0, sy, ty - sy * y0]], np.float64)
    return Placement(matrix=matrix, out_hw=(out_h, out_w), box_xyxy=(cx, ty, cx + sw, ty + sh), horizon_y=horizon,
                     cut_sides=frozenset(cut))


def map_box(box: BoxXYXY, placement: Placement) -> BoxXYXY:
    """A box in input pixels -> output pixels (clipped to the canvas)."""
    m = placement.matrix
    h, w = placement.out_hw
    bx0 = int(np.floor(m[0, 0] * box[0] + m[0, 2]))
    by0 = int(np.floor(m[1, 1] * box[1] + m[1, 2]))
    bx1 = int(np.ceil(m[0, 0] * box[2] + m[0, 2]))
    by1 = int(np.ceil(m[1, 1] * box[3] + m[1, 2]))
    return max(0, bx0), max(0, by0), min(w, bx1), min(h, by1)


def place_product(
    foreground: np.ndarray,
    alpha: np.ndarray,
    placement: Placement,
    logo_boxes: tuple[BoxXYXY, ...] = (),
) -> PlacedProduct:
    """Resample the product into the canvas.

    foreground: HWC uint8, alpha: HW float32 [0, 1] (input resolution). Downscaling uses area
    averaging of premultiplied colour (no dark or light edge), upscaling bicubic; at scale 1
    pixels are copied unchanged. Returns a :class:`PlacedProduct` (rgb 0 where alpha is 0).
    """
    x0, y0, x1, y1 = mask_bbox(alpha > 0)
    bx0, by0, bx1, by1 = placement.box_xyxy
    out_h, out_w = placement.out_hw
    # The box was computed from the hard mask; widen the crop to carry the soft edge too.
    m = placement.matrix
    ox0 = int(np.floor(m[0, 0] * x0 + m[0, 2]))
    oy0 = int(np.floor(m[1, 1] * y0 + m[1, 2]))
    ow = max(1, int(round((x1 - x0) * m[0, 0])))
    oh = max(1, int(round((y1 - y0) * m[1, 1])))
    crop_a = alpha[y0:y1, x0:x1]
    crop_f = foreground[y0:y1, x0:x1]
    if (ow, oh) == (x1 - x0, y1 - y0):
        a_s, f_s = crop_a.copy(), crop_f
    else:
        interp = cv2.INTER_AREA if ow < (x1 - x0) else cv2.INTER_CUBIC
        a_s = np.clip(cv2.resize(crop_a, (ow, oh), interpolation=interp), 0.0, 1.0)
        # Premultiplied colour in uint16 (colour * alpha * 255 fits), so edges average correctly.
        a16 = (crop_a * 255.0 + 0.5).astype(np.uint16)
        pre = cv2.resize(crop_f.astype(np.uint16) * a16[..., None], (ow, oh), interpolation=interp)
        f_s = np.clip(pre.astype(np.float32) / np.maximum(a_s * 255.0, 1e-3)[..., None] + 0.5, 0, 255).astype(np.uint8)
    rgb = np.zeros((out_h, out_w, 3), np.uint8)
    a_out = np.zeros((out_h, out_w), np.float32)
    # Paste with clipping at the canvas edges.
    dx0, dy0 = max(0, ox0), max(0, oy0)
    dx1, dy1 = min(out_w, ox0 + ow), min(out_h, oy0 + oh)
    sx0, sy0 = dx0 - ox0, dy0 - oy0
    a_out[dy0:dy1, dx0:dx1] = a_s[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    rgb[dy0:dy1, dx0:dx1] = f_s[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    np.copyto(rgb, 0, where=(a_out <= 0)[..., None])
    boxes = tuple(b for b in (map_box(b, placement) for b in logo_boxes) if b[2] > b[0] and b[3] > b[1])
    return PlacedProduct(rgb=rgb, alpha=a_out, mask=a_out >= 0.5, placement=placement, logo_boxes=boxes)
