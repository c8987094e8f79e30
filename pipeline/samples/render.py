"""Render one named sample into arrays: photo, exact alpha, hard mask, logo boxes."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.samples.canvas import Canvas
from pipeline.samples.catalog import SAMPLE_SPECS

log = logging.getLogger(__name__)

NOISE_SIGMA = 1.2
"""Sensor noise (luminance sigma, 0..255 units) added to every sample."""
MIN_SIDE, MAX_SIDE = 64, 2048  # 2048 x 2048 already needs ~0.4 GB while drawing

BoxXYXY = tuple[int, int, int, int]


@dataclass(frozen=True)
class Sample:
    """A generated product photo and its exact ground truth.

    rgb:   HWC uint8 RGB photo (background, soft shadows, product, sensor noise).
    mask:  HW bool, product pixels (exactly ``alpha >= 0.5``); shadows are background.
    alpha: HW float32 in [0, 1], exact anti-aliased product coverage (multiples of 1/16).
    logo_boxes: printed text / logo regions, (x0, y0, x1, y1) ints in pixels, x1/y1 exclusive.
    meta:  category, colour, notes, covers, background, fmt, seed.
    """

    name: str
    rgb: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray
    logo_boxes: tuple[BoxXYXY, ...]
    meta: dict[str, Any]


def _check_name(name: str) -> None:
    if name not in SAMPLE_SPECS:
        raise ValueError(f"unknown sample name {name!r}; valid names: {', '.join(sorted(SAMPLE_SPECS))}")


def _check_size(size: tuple[int, int] | None) -> None:
    if size is None:
        return
    ok = (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
        and all(MIN_SIDE <= int(v) <= MAX_SIDE for v in size)
    )
    if not ok:
        raise ValueError(f"size must be (height, width) ints in [{MIN_SIDE}, {MAX_SIDE}] or None, got {size!r}")


def render_sample(name: str, *, seed: int = 0, size: tuple[int, int] | None = None) -> Sample:
    """Draw sample ``name`` (see ``SAMPLE_SPECS``) deterministically for ``seed``.

    size: output (height, width); None keeps the sample's native size (``design_wh`` reversed).
    A different aspect ratio stretches the drawing (shapes are rasterised at the output size,
    so edges and alpha stay exact).
    """
    _check_name(name)
    _check_size(size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    spec = SAMPLE_SPECS[name]
    out_hw = (int(size[0]), int(size[1])) if size is not None else (spec.design_wh[1], spec.design_wh[0])
    rng = np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])
    canvas = Canvas(spec.design_wh, out_hw)
    spec.scene(canvas, rng)
    rgb, alpha = canvas.finish(NOISE_SIGMA, rng)
    mask = alpha >= 0.5
    boxes = tuple(b for b in dict.fromkeys(canvas.logos) if b[2] > b[0] and b[3] > b[1])
    meta = {
        "category": spec.category,
        "colour": spec.colour,
        "notes": spec.notes,
        "covers": list(spec.covers),
        "background": spec.background,
        "fmt": spec.fmt,
        "seed": int(seed),
    }
    log.debug("rendered sample %s seed=%d size=%s logos=%d", name, seed, out_hw, len(boxes))
    return Sample(name=name, rgb=rgb, mask=mask, alpha=alpha, logo_boxes=boxes, meta=meta)
