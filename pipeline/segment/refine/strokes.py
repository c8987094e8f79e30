"""Clicks and brush strokes drawn onto pixel grids (input or work resolution)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pipeline.segment.refine.corrections import Click

KEEP, REMOVE, NONE = 1, -1, 0  # seed label values


def draw_click(click: Click, hw: tuple[int, int], scale: float = 1.0, min_radius_px: float = 1.0) -> np.ndarray:
    """HW bool: the pixels ``click`` covers on a grid of ``hw``, where input pixel (x, y) maps to
    ``(x * scale, y * scale)``; the radius scales too, but never below ``min_radius_px``."""
    canvas = np.zeros(hw, np.uint8)
    radius = max(min_radius_px, click.radius_px * scale)
    # cv2 draws with integer coordinates: 4 fractional bits keep sub-pixel positions.
    shift, unit = 4, 16.0
    pts = np.array([[(x * scale + 0.5 * scale - 0.5) * unit, (y * scale + 0.5 * scale - 0.5) * unit]
                    for x, y in click.points], np.float64)
    pts = np.rint(pts).astype(np.int32)
    r = max(0, round(radius - 0.5))
    for p in pts:
        cv2.circle(canvas, (int(p[0]), int(p[1])), int(r * unit), 1, -1, lineType=cv2.LINE_8, shift=shift)
    if len(pts) > 1:
        cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, 1, thickness=2 * r + 1, lineType=cv2.LINE_8,
                      shift=shift)
    return canvas.astype(bool)


def seed_labels(clicks: Sequence[Click], hw: tuple[int, int], scale: float = 1.0,
                min_radius_px: float = 1.0) -> np.ndarray:
    """HW int8: ``KEEP`` / ``REMOVE`` where a click covers the pixel (a later click overrides an
    earlier one), ``NONE`` elsewhere."""
    labels = np.zeros(hw, np.int8)
    for click in clicks:
        labels[draw_click(click, hw, scale, min_radius_px)] = KEEP if click.kind == "keep" else REMOVE
    return labels
