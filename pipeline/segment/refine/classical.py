"""Classical refinement: a click flips the region it belongs to, at the work resolution; the
edge is then matted and decontaminated at full resolution like the classical segmenter's.

Steps (:meth:`ClassicalRefiner.step`):
 1. the current alpha, area-averaged to the work size, is the prior;
 2. the method (:mod:`.methods`, ``geodesic`` by measurement) flips the region the newest click
    belongs to;
 3. where the work-size mask changed, full-resolution alpha and colours come from
    :func:`pipeline.segment.matting.refine_alpha`; everywhere else the current alpha and
    foreground are kept as they are, so a click never touches a region it did not change;
 4. every click's pixels are hard constraints at full resolution: "keep" is alpha 1 with the
    photo's own colours, "remove" is alpha 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from pipeline import __version__
from pipeline.segment.matting import refine_alpha
from pipeline.segment.refine.corrections import Click
from pipeline.segment.refine.methods import METHODS
from pipeline.segment.refine.strokes import KEEP, REMOVE, draw_click, seed_labels
from pipeline.segment.refine.work import WorkImage, crop_work, prepare_work, to_work
from pipeline.types import Segmentation

DEFAULT_METHOD = "ladder"  # won bench/eval_fix.py --methods on the real photos (see README)
METHOD_VERSION = "2"  # bump when a method's output changes for the same clicks
WORK_SIDE = 512  # long side (px) the methods work at: the classical segmenter's default work_side
SMALL_FLIP_WORK_PX = 1500  # a click that flips fewer work pixels than this is refined again at full resolution
LOCAL_SPAN = 3.0  # that window spans this many times the flipped region's box ...
LOCAL_MIN_PX = 160  # ... at least this many input pixels a side ...
LOCAL_MAX_PX = 640  # ... and at most this many
LOCAL_UNRESOLVED_PX = 384  # the window (input pixels a side) when the work size flipped nothing
CHANGE_PAD_PX = 2  # full-resolution pixels around a changed region that take the new alpha


def apply_hard_constraints(seg: Segmentation, rgb: np.ndarray, clicks: Sequence[Click]) -> Segmentation:
    """``seg`` with every click's pixels forced (full resolution; later clicks win): keep -> alpha 1
    and the photo's colours, remove -> alpha 0."""
    labels = seed_labels(clicks, seg.alpha.shape)
    if not labels.any():
        return seg
    alpha = seg.alpha.copy()
    foreground = seg.foreground.copy()
    keep, remove = labels == KEEP, labels == REMOVE
    alpha[keep] = 1.0
    foreground[keep] = rgb[keep]
    alpha[remove] = 0.0
    return dataclasses.replace(seg, alpha=alpha, mask=alpha >= 0.5, foreground=foreground)


class ClassicalRefiner:
    """Refine any backend's mask with a classical method. ``prepare(rgb)`` once per item, then
    ``step(context, current, state, clicks)`` per click (see :mod:`pipeline.segment.refine`)."""

    name = "classical"

    def __init__(self, method: str = DEFAULT_METHOD, work_side: int = WORK_SIDE):
        if method not in METHODS:
            raise ValueError(f"unknown refinement method {method!r}; valid: {', '.join(METHODS)}")
        self.method_name = method
        self.method = METHODS[method]
        self.work_side = work_side

    @property
    def version(self) -> str:
        return f"{self.method_name}-{METHOD_VERSION}/product-scene-{__version__}"

    def prepare(self, rgb: np.ndarray, key: str | None = None) -> WorkImage:
        """The work-size image of ``rgb`` (HWC uint8); ``key`` is unused (nothing heavy to cache)."""
        return prepare_work(rgb, self.work_side)

    def step(self, work: WorkImage, current: Segmentation, state: Any, clicks: Sequence[Click]
             ) -> tuple[Segmentation, Any]:
        """The segmentation after ``clicks[-1]``, from ``current`` (the result of ``clicks[:-1]``)."""
        kind = KEEP if clicks[-1].kind == "keep" else REMOVE
        hw = work.hw
        prior = to_work(current.alpha, hw)  # 1
        seeds = seed_labels(clicks, hw, work.scale)
        last = draw_click(clicks[-1], hw, work.scale)
        new = self.method(work, prior, seeds, last, kind)  # 2
        grid, box = work, self._local_box(work, current.mask, clicks[-1], kind, new != prior)
        if box is not None:  # a small or thin region: again at full resolution, in a window around it
            y0, y1, x0, x1 = box
            grid = crop_work(work, box)
            prior = current.mask[y0:y1, x0:x1].copy()
            seeds = seed_labels(clicks, work.rgb.shape[:2])[y0:y1, x0:x1]
            last = draw_click(clicks[-1], work.rgb.shape[:2])[y0:y1, x0:x1]
            new = self.method(grid, prior, seeds, last, kind)
        seg = current
        changed = new != prior
        if changed.any():  # 3
            seg = self._rematte(grid, current, new, changed, box)
        seg = apply_hard_constraints(seg, work.rgb, clicks)  # 4
        info = {**current.info, "refined": {"method": self.method_name, "clicks": len(clicks)}}
        return dataclasses.replace(seg, info=info), None

    @staticmethod
    def _local_box(work: WorkImage, mask: np.ndarray, click: Click, kind: int,
                   flipped: np.ndarray) -> tuple[int, int, int, int] | None:
        """A full-resolution window (y0, y1, x0, x1) to refine ``click`` in again when the work
        size is too coarse for it: the region flipped there (HW bool, work size) is under
        ``SMALL_FLIP_WORK_PX`` (the window spans ``LOCAL_SPAN`` times its box, ``LOCAL_MIN_PX`` to
        ``LOCAL_MAX_PX`` a side), or nothing flipped there although the click lies on the other
        label (``LOCAL_UNRESOLVED_PX`` a side). None when the photo is not downsized."""
        if work.scale >= 1.0:
            return None
        h, w = mask.shape
        xs, ys = zip(*click.points)
        cx, cy = int(np.clip(np.mean(xs), 0, w - 1)), int(np.clip(np.mean(ys), 0, h - 1))
        span = LOCAL_MIN_PX
        if flipped.any():
            if flipped.sum() >= SMALL_FLIP_WORK_PX:
                return None
            fy, fx = np.nonzero(flipped)
            span = max(span, LOCAL_SPAN * max(np.ptp(fy) + 1, np.ptp(fx) + 1) / work.scale)
        else:  # nothing flipped at the work size: the region may be too thin or too faint to show there
            opposite = ~mask if kind == KEEP else mask
            if not (draw_click(click, (h, w)) & opposite).any():
                return None
            span = LOCAL_UNRESOLVED_PX
        half = int(min(span, LOCAL_MAX_PX)) // 2
        return max(0, cy - half), min(h, cy + half), max(0, cx - half), min(w, cx + half)

    def _rematte(self, grid: WorkImage, current: Segmentation, new: np.ndarray, changed: np.ndarray,
                 box: tuple[int, int, int, int] | None) -> Segmentation:
        """Alpha and colours from ``refine_alpha`` where the mask changed (plus ``CHANGE_PAD_PX``),
        the current ones elsewhere. ``grid``: the whole work image (``box`` None) or a
        full-resolution crop at ``box``."""
        h, w = grid.rgb.shape[:2]
        alpha_new, fg_new = refine_alpha(grid.rgb, new, grid.small, current.background_rgb)
        region = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
        if region.shape != (h, w):
            region = cv2.resize(region, (w, h), interpolation=cv2.INTER_NEAREST)
        pad = 2 * CHANGE_PAD_PX + 1
        region = cv2.dilate(region, np.ones((pad, pad), np.uint8)) > 0
        alpha, foreground = current.alpha.copy(), current.foreground.copy()
        y0, x0 = (0, 0) if box is None else (box[0], box[2])
        a_view, f_view = alpha[y0:y0 + h, x0:x0 + w], foreground[y0:y0 + h, x0:x0 + w]
        a_view[region] = alpha_new[region]
        f_view[region] = fg_new[region]
        return dataclasses.replace(current, alpha=alpha, mask=alpha >= 0.5, foreground=foreground)
