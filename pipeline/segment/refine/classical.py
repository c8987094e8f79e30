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
from pipeline.segment.refine.work import WorkImage, prepare_work, to_work
from pipeline.types import Segmentation

DEFAULT_METHOD = "geodesic"  # won bench/eval_fix.py --methods on the real photos (see README)
METHOD_VERSION = "1"  # bump when a method's output changes for the same clicks
WORK_SIDE = 512  # long side (px) the methods work at: the classical segmenter's default work_side
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
        hw = work.hw
        prior = to_work(current.alpha, hw)  # 1
        seeds = seed_labels(clicks, hw, work.scale)
        last = draw_click(clicks[-1], hw, work.scale)
        kind = KEEP if clicks[-1].kind == "keep" else REMOVE
        new = self.method(work, prior, seeds, last, kind)  # 2
        seg = current
        changed = new != prior
        if changed.any():  # 3
            seg = self._rematte(work, current, new, changed)
        seg = apply_hard_constraints(seg, work.rgb, clicks)  # 4
        info = {**current.info, "refined": {"method": self.method_name, "clicks": len(clicks)}}
        return dataclasses.replace(seg, info=info), None

    def _rematte(self, work: WorkImage, current: Segmentation, new: np.ndarray, changed: np.ndarray) -> Segmentation:
        h, w = work.rgb.shape[:2]
        alpha_new, fg_new = refine_alpha(work.rgb, new, work.small, current.background_rgb)
        region = cv2.resize(cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8)), (w, h),
                            interpolation=cv2.INTER_NEAREST)
        pad = 2 * CHANGE_PAD_PX + 1
        region = cv2.dilate(region, np.ones((pad, pad), np.uint8)) > 0
        alpha = np.where(region, alpha_new, current.alpha).astype(np.float32)
        foreground = np.where(region[..., None], fg_new, current.foreground)
        return dataclasses.replace(current, alpha=alpha, mask=alpha >= 0.5, foreground=foreground)
