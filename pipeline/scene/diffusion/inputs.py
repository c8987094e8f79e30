"""Inputs of the diffusion backend, as plain arrays: work geometry, init image, inpaint mask,
control images, IP-Adapter reference images, prompts.

Pure functions of the placed product, the control maps and the theme (no torch, no models), so
the mask guarantees ("the product is never in the inpaint region") are tested without weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.config.diffusion import UNION_CONTROL_MODES, DiffusionConfig, IPAdapterSpec
from pipeline.config.themes import Theme, fill_prompt
from pipeline.types import ControlMaps, PlacedProduct

MULTIPLE = 8  # VAE downsampling factor of SD1.5 and SDXL
GREY = (128, 128, 128)
REFERENCE_MARGIN = 0.06


@dataclass(frozen=True)
class WorkGeometry:
    """out_hw: the output canvas. scaled_hw: out_hw resized to the work long side.
    work_hw: scaled_hw padded (bottom/right, edge pixels) up to multiples of 8."""

    out_hw: tuple[int, int]
    scaled_hw: tuple[int, int]
    work_hw: tuple[int, int]


@dataclass(frozen=True)
class DiffusionInputs:
    """Everything one pipeline call needs, at the work size (HWC uint8 / HW bool).

    inpaint_mask: True where the model may paint (everything but the product, grown a little).
    control_images: one per ControlNet in config order (for ``union``, one per ``union_maps``).
    control_modes: ControlNet-Union mode ids, else None. ip_images: one per IP-Adapter.
    """

    geometry: WorkGeometry
    init_image: np.ndarray
    inpaint_mask: np.ndarray
    control_images: tuple[np.ndarray, ...]
    control_modes: tuple[int, ...] | None
    ip_images: tuple[np.ndarray, ...]
    ip_references: tuple[str, ...]
    prompt: str
    negative_prompt: str


def work_geometry(out_hw: tuple[int, int], work_long_side: int | None) -> WorkGeometry:
    """Scale to ``work_long_side`` (None: keep), then pad up to multiples of 8."""
    h, w = int(out_hw[0]), int(out_hw[1])
    if h < 1 or w < 1:
        raise ValueError(f"out_hw must be positive, got {out_hw}")
    if work_long_side is not None:
        s = work_long_side / max(h, w)
        h, w = max(MULTIPLE, round(h * s)), max(MULTIPLE, round(w * s))
    pad = (-h % MULTIPLE, -w % MULTIPLE)
    return WorkGeometry(out_hw=(int(out_hw[0]), int(out_hw[1])), scaled_hw=(h, w), work_hw=(h + pad[0], w + pad[1]))


def to_work(image: np.ndarray, geom: WorkGeometry, *, nearest: bool = False, pad_value: float | None = None) -> np.ndarray:
    """``image`` (out_hw) -> work size: resize to scaled_hw, pad bottom/right (edge or ``pad_value``)."""
    out = image
    if geom.scaled_hw != geom.out_hw:
        sh, sw = geom.scaled_hw
        shrink = sh < geom.out_hw[0]
        interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        out = cv2.resize(image, (sw, sh), interpolation=interp)
        if image.ndim == 3 and out.ndim == 2:
            out = out[..., None]
    ph, pw = geom.work_hw[0] - geom.scaled_hw[0], geom.work_hw[1] - geom.scaled_hw[1]
    if ph or pw:
        widths = ((0, ph), (0, pw)) + (((0, 0),) if out.ndim == 3 else ())
        if pad_value is None:
            out = np.pad(out, widths, mode="edge")
        else:
            out = np.pad(out, widths, mode="constant", constant_values=pad_value)
    return out


def from_work(image: np.ndarray, geom: WorkGeometry) -> np.ndarray:
    """Work-size HWC uint8 -> out_hw: crop the padding, resize back."""
    sh, sw = geom.scaled_hw
    out = image[:sh, :sw]
    if geom.scaled_hw != geom.out_hw:
        oh, ow = geom.out_hw
        interp = cv2.INTER_CUBIC if oh > sh else cv2.INTER_AREA
        out = cv2.resize(out, (ow, oh), interpolation=interp)
    return np.ascontiguousarray(out)


def keep_region(alpha: np.ndarray, threshold: float, dilate_px: int) -> np.ndarray:
    """HW bool: the product (alpha > threshold) grown by ``dilate_px`` — never repainted."""
    keep = alpha > threshold
    if dilate_px > 0 and keep.any():
        k = 2 * dilate_px + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        keep = cv2.dilate(keep.astype(np.uint8), kernel) > 0
    return keep


def inpaint_mask(alpha_work: np.ndarray, geom: WorkGeometry, threshold: float, dilate_px: int) -> np.ndarray:
    """HW bool at the work size: True = generate. The product and the padding rule: product kept,
    padding generated."""
    keep = keep_region(alpha_work, threshold, dilate_px)
    sh, sw = geom.scaled_hw
    keep[sh:, :] = False
    keep[:, sw:] = False
    return ~keep


def init_image(rgb: np.ndarray, alpha: np.ndarray, fill_rgb: tuple[int, int, int]) -> np.ndarray:
    """HWC uint8: the product over a flat ``fill_rgb`` (alpha-blended edges)."""
    a = np.clip(alpha, 0.0, 1.0)[..., None].astype(np.float32)
    fill = np.asarray(fill_rgb, np.float32)[None, None, :]
    out = rgb.astype(np.float32) * a + fill * (1.0 - a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def product_reference(placed: PlacedProduct) -> np.ndarray:
    """HWC uint8: the product cut-out on white, cropped square around its box (IP-Adapter input)."""
    x0, y0, x1, y1 = placed.placement.box_xyxy
    h, w = placed.alpha.shape
    side = int(max(x1 - x0, y1 - y0) * (1 + 2 * REFERENCE_MARGIN)) + 1
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    ys, xs = slice(max(0, cy - side // 2), min(h, cy + side // 2 + 1)), slice(max(0, cx - side // 2), min(w, cx + side // 2 + 1))
    crop = init_image(placed.rgb[ys, xs], placed.alpha[ys, xs], (255, 255, 255))
    if crop.size == 0:
        raise ValueError(f"placed product box {placed.placement.box_xyxy} is outside the canvas {(h, w)}")
    return crop


@lru_cache(maxsize=16)
def read_reference_image(path: str) -> np.ndarray:
    """HWC uint8 RGB of a style/reference image file (read once per process)."""
    from PIL import Image

    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"IP-Adapter reference image not found: {p}")
    with Image.open(p) as im:
        im.draft("RGB", (1024, 1024))
        rgb = np.asarray(im.convert("RGB"))
    rgb.setflags(write=False)
    return rgb


def ip_reference(spec: IPAdapterSpec, theme: Theme, placed: PlacedProduct) -> tuple[np.ndarray, str]:
    """The reference image for one adapter and what it was (``theme:<path>``, ``product``, ``path:<p>``)."""
    if spec.reference == "path":
        return read_reference_image(spec.reference_path), f"path:{spec.reference_path}"
    if spec.reference == "theme" and theme.style_image:
        return read_reference_image(theme.style_image), f"theme:{theme.style_image}"
    return product_reference(placed), "product"


def control_images(
    cfg: DiffusionConfig, control: ControlMaps, geom: WorkGeometry
) -> tuple[tuple[np.ndarray, ...], tuple[int, ...] | None]:
    """Control images in ControlNet order (padding zero = no edges / far), plus union modes."""
    maps = {"canny": control.canny, "depth": control.depth}
    images: list[np.ndarray] = []
    modes: list[int] | None = None
    for spec in cfg.controlnets:
        if spec.name == "union":
            modes = [UNION_CONTROL_MODES[m] for m in spec.union_maps]
            images += [to_work(maps[m], geom, pad_value=0) for m in spec.union_maps]
        else:
            images.append(to_work(maps[spec.name], geom, pad_value=0))
    return tuple(images), (tuple(modes) if modes is not None else None)


def prompts(cfg: DiffusionConfig, theme: Theme, item_meta: Mapping[str, Any]) -> tuple[str, str]:
    """Theme prompt and negative prompt with {category}/{colour} from the item, then the config."""
    defaults = {"category": cfg.category, "colour": cfg.colour}
    meta = dict(item_meta)
    return fill_prompt(theme.prompt, meta, defaults), fill_prompt(theme.negative_prompt, meta, defaults)


def prepare_inputs(
    cfg: DiffusionConfig,
    placed: PlacedProduct,
    control: ControlMaps,
    theme: Theme,
    item_meta: Mapping[str, Any],
) -> DiffusionInputs:
    """All pipeline inputs for one product (see :class:`DiffusionInputs`)."""
    geom = work_geometry(placed.placement.out_hw, cfg.work_long_side)
    fill = theme.rgb_colors()[0] if cfg.init_fill == "theme" else GREY
    alpha_w = to_work(placed.alpha.astype(np.float32), geom, pad_value=0.0)
    rgb_w = to_work(init_image(placed.rgb, placed.alpha, fill), geom)
    pad_fill = np.asarray(fill, np.uint8)
    sh, sw = geom.scaled_hw
    rgb_w[sh:, :] = pad_fill
    rgb_w[:, sw:] = pad_fill
    images, modes = control_images(cfg, control, geom)
    refs = [ip_reference(spec, theme, placed) for spec in cfg.ip_adapters]
    prompt, negative = prompts(cfg, theme, item_meta)
    return DiffusionInputs(
        geometry=geom,
        init_image=rgb_w,
        inpaint_mask=inpaint_mask(alpha_w, geom, cfg.mask_alpha_threshold, cfg.mask_dilate_px),
        control_images=images,
        control_modes=modes,
        ip_images=tuple(r[0] for r in refs),
        ip_references=tuple(r[1] for r in refs),
        prompt=prompt,
        negative_prompt=negative,
    )


def composite(scene: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """HWC uint8: the product (``rgb``, ``alpha``) over ``scene``; all three the same HW."""
    a = np.clip(alpha, 0.0, 1.0)[..., None].astype(np.float32)
    out = rgb.astype(np.float32) * a + scene.astype(np.float32) * (1.0 - a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
