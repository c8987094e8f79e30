"""The photo at the refinement's work resolution, computed once per item and reused per click."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.segment.background import BackgroundModel, fit_background
from pipeline.segment.classical import _resize_long_side, to_lab

GRAD_SIGMA_PX = 1.0  # Lab is smoothed this much (work pixels) before its gradient: JPEG noise is not an edge
RAMP_SIGMA_PX = 3.0  # a change that survives this much blur is a ramp (shadow, shading), not an outline


@dataclass(frozen=True)
class WorkImage:
    """rgb: HWC uint8 full resolution; small: HWC uint8 at the work size; scale: small / full;
    lab: small in Lab (HWC float32, L 0..100); grad: HW float32 ΔE76 per work pixel (Sobel of the
    smoothed Lab, all three channels); step: HW float32, the part of ``grad`` that blurring
    removes (ΔE76 per pixel, >= 0): high on an outline, near 0 on a ramp; background: the fitted
    backdrop surface at the work size."""

    rgb: np.ndarray
    small: np.ndarray
    scale: float
    lab: np.ndarray
    grad: np.ndarray
    step: np.ndarray
    background: BackgroundModel

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.small.shape[0]), int(self.small.shape[1])


def lab_gradient(lab: np.ndarray, sigma: float = GRAD_SIGMA_PX) -> np.ndarray:
    """HW float32: |∇Lab| in ΔE76 per pixel of ``lab`` (HWC float32), after a Gaussian of ``sigma``."""
    smooth = cv2.GaussianBlur(lab, (0, 0), sigma) if sigma > 0 else lab
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.sqrt((gx * gx + gy * gy).sum(axis=2))


def prepare_work(rgb: np.ndarray, work_side: int) -> WorkImage:
    """``rgb`` (HWC uint8) resized to ``work_side`` on its long side (never up), in Lab, with its gradient."""
    small, scale = _resize_long_side(rgb, work_side)
    lab = to_lab(small)
    grad = lab_gradient(lab)
    step = np.maximum(grad - lab_gradient(lab, RAMP_SIGMA_PX), 0.0)
    return WorkImage(rgb=rgb, small=small, scale=scale, lab=lab, grad=grad, step=step,
                     background=fit_background(lab, small))


def to_work(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A full-resolution HW float/bool mask at the work size ``hw`` as HW bool (area average >= 0.5)."""
    if mask.shape == hw:
        return mask >= 0.5 if mask.dtype != bool else mask.copy()
    small = cv2.resize(mask.astype(np.float32), (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    return small >= 0.5
