"""The photo at the refinement's work resolution, computed once per item and reused per click."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.imaging import resize_long_side, rgb_to_lab
from pipeline.segment.background import BackgroundModel, fit_background

GRAD_SIGMA_PX = 1.0  # Lab is smoothed this much (work pixels) before its gradient: JPEG noise is not an edge
FRAME_PX = 2  # the frame ring (grid pixels) that counts as backdrop evidence for a keep click
RAMP_SIGMA_PX = 3.0  # a change that survives this much blur is a ramp (shadow, shading), not an outline


@dataclass(frozen=True)
class WorkImage:
    """rgb: HWC uint8 full resolution; small: HWC uint8 at the work size; scale: small / full;
    lab: small in Lab (HWC float32, L 0..100); grad: HW float32 ΔE76 per work pixel (Sobel of the
    smoothed Lab, all three channels); step: HW float32, the part of ``grad`` that blurring
    removes (ΔE76 per pixel, >= 0): high on an outline, near 0 on a ramp; background: the fitted
    backdrop surface at the work size; frame: HW bool, the photo's frame ring (FRAME_PX wide) as
    far as this grid shows it; long_side_px: the whole photo's long side in this grid's pixels."""

    rgb: np.ndarray
    small: np.ndarray
    scale: float
    lab: np.ndarray
    grad: np.ndarray
    step: np.ndarray
    background: BackgroundModel
    frame: np.ndarray
    long_side_px: float

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.small.shape[0]), int(self.small.shape[1])


def lab_gradient(lab: np.ndarray, sigma: float = GRAD_SIGMA_PX) -> np.ndarray:
    """HW float32: |∇Lab| in ΔE76 per pixel of ``lab`` (HWC float32), after a Gaussian of ``sigma``."""
    smooth = cv2.GaussianBlur(lab, (0, 0), sigma) if sigma > 0 else lab
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.sqrt((gx * gx + gy * gy).sum(axis=2))


def _frame(hw: tuple[int, int], sides: tuple[bool, bool, bool, bool] = (True, True, True, True)) -> np.ndarray:
    """HW bool ring of FRAME_PX on the given sides (top, bottom, left, right)."""
    ring = np.zeros(hw, bool)
    top, bottom, left, right = sides
    ring[:FRAME_PX] |= top
    ring[-FRAME_PX:] |= bottom
    ring[:, :FRAME_PX] |= left
    ring[:, -FRAME_PX:] |= right
    return ring


def _analyse(rgb: np.ndarray, small: np.ndarray, scale: float, background: BackgroundModel,
             frame: np.ndarray, long_side_px: float) -> WorkImage:
    lab = rgb_to_lab(small)
    grad = lab_gradient(lab)
    step = np.maximum(grad - lab_gradient(lab, RAMP_SIGMA_PX), 0.0)
    return WorkImage(rgb=rgb, small=small, scale=scale, lab=lab, grad=grad, step=step, background=background,
                     frame=frame, long_side_px=long_side_px)


def prepare_work(rgb: np.ndarray, work_side: int) -> WorkImage:
    """``rgb`` (HWC uint8) resized to ``work_side`` on its long side (never up), in Lab, with its
    gradients and fitted backdrop."""
    small, scale = resize_long_side(rgb, work_side)
    lab = rgb_to_lab(small)
    return _analyse(rgb, small, scale, fit_background(lab, small), _frame(small.shape[:2]), float(max(small.shape[:2])))


def crop_work(work: WorkImage, box: tuple[int, int, int, int]) -> WorkImage:
    """A full-resolution WorkImage of ``box`` = (y0, y1, x0, x1) in input pixels (scale 1), for
    errors too thin for the work size; its backdrop surface is the whole photo's, resampled. Its
    ``frame`` is the crop's own border: a click refined in a window stays inside it."""
    y0, y1, x0, x1 = box
    crop = work.rgb[y0:y1, x0:x1]
    s = work.scale
    to_src = np.array([[s, 0.0, (x0 + 0.5) * s - 0.5], [0.0, s, (y0 + 0.5) * s - 0.5]])
    bg_lab = cv2.warpAffine(work.background.lab, to_src, (x1 - x0, y1 - y0),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    bg = BackgroundModel(lab=bg_lab, rgb=work.background.rgb, noise=work.background.noise,
                         border_bg_fraction=work.background.border_bg_fraction)
    return _analyse(crop, crop, 1.0, bg, _frame(crop.shape[:2]), float(max(work.rgb.shape[:2])))


def to_work(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A full-resolution HW float/bool mask at the work size ``hw`` as HW bool (area average >= 0.5)."""
    if mask.shape == hw:
        return mask >= 0.5 if mask.dtype != bool else mask.copy()
    small = cv2.resize(mask.astype(np.float32), (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    return small >= 0.5
