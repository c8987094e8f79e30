"""The classical segmenter's second look: does the cut-out hold when the photo is cut again smaller?

Where the classical segmenter is sure (a clear outline against the backdrop), cutting the photo at
another work size gives the same mask, up to a pixel of jitter along the outline. Where it
guessed (a faint shadow under a sole, a see-through gap with a soft rim, a glow on the backdrop,
a thin cable fading into white), the guess moves with the work size. The gate cuts the photo
again with the same settings at ``SECOND_LOOK`` of the configured work size (the coarse mask
only, :meth:`ClassicalSegmenter.coarse_mask`, no matting) and compares it with the cut-out at
that size:

``cutout_unstable`` = (pixels of either mask farther than ``TOLERANCE_PX`` from the other) /
(pixels of their union), in [0, 1].

This is the segmenter's word about its own cut-out: it is measured only for the classical
segmenter's mask (``compose`` skips other backends, a fixed or injected mask, a file's own
alpha). A correct mask from elsewhere on a photo the classical segmenter finds hard would read
high, which says nothing about that mask.

The second look starts from the photo itself, not from anything the first look made: the value
follows the guesses' sensitivity to the input pixels, so it moves with them. On the real photos at
1 MP, resizing from the first look's 512 px work copy instead of the photo moved it by up to
0.16 (5 of 48 photos crossing the 0.0302 limit); resizing its Lab image, up to 0.25; reusing its
backdrop fit, up to 0.16. Its cost is cut where the result stays bit-identical instead (the coarse
mask's steps, shared with the first look).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.config import SegmentConfig
from pipeline.imaging import dilate_disc, resize_long_side, rgb_to_lab
from pipeline.segment.background import fit_background
from pipeline.segment.classical import ClassicalSegmenter

# --- Named constants. Chosen on the real photos of ../shared/products (the cut-outs of work size
# 512 against second looks at 256, 320, 384 and 448): at 5/8 the good cut-outs (IoU >= 0.98) read
# at most 0.028 and 14 of the 15 bad ones more than 0.03 (bench/gate_fit.py's rows); 1/2 costs less
# but reads up to 0.11 on good ones (thin laces vanish at 256 px), 3/4 and more repeats the first
# look's mistakes. SECOND_LOOK was chosen seeing all 43 photos, so gate_fit's held-out rates for
# this signal are somewhat optimistic (only its limit is fitted per fold).
SECOND_LOOK = 0.625  # x the segmenter's work size: the size the photo is cut again at
MIN_SIDE = 96  # px: the least long side of the second look
TOLERANCE_PX = 1  # px at the second look's size: disagreement this close to the other mask is jitter


def second_look_side(segment: SegmentConfig) -> int:
    """Long side (px) the photo is cut again at."""
    return max(MIN_SIDE, round(SECOND_LOOK * segment.work_side))


def unstable_share(rgb: np.ndarray, mask: np.ndarray, segment: SegmentConfig) -> float:
    """``cutout_unstable`` of ``mask`` (HW bool, the classical segmenter's cut-out of ``rgb``, HWC
    uint8) under ``segment`` (the settings that cut it; module docstring)."""
    side = second_look_side(segment)
    segmenter = ClassicalSegmenter(segment.model_copy(update={"work_side": side}))
    small, _ = resize_long_side(rgb, side)
    lab = rgb_to_lab(small)
    again, _ = segmenter.coarse_mask(lab, fit_background(lab, small))
    size = (again.shape[1], again.shape[0])
    first = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    return tolerant_disagreement(first, again, TOLERANCE_PX)


def tolerant_disagreement(a: np.ndarray, b: np.ndarray, tolerance_px: int) -> float:
    """Pixels of ``a`` farther than ``tolerance_px`` from ``b`` and of ``b`` farther from ``a``
    (disc distance), over the pixels of their union; ``a``, ``b``: HW bool, same HW. 0 for two
    empty masks."""
    union = int(np.count_nonzero(a | b))
    if union == 0:
        return 0.0
    near_a = dilate_disc(a, tolerance_px)
    near_b = dilate_disc(b, tolerance_px)
    return float(np.count_nonzero(a & ~near_b) + np.count_nonzero(b & ~near_a)) / union
