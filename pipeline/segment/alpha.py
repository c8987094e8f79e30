"""Use a transparent PNG's own alpha: the photo is already cut out."""

from __future__ import annotations

import numpy as np

from pipeline.types import Segmentation


def has_cutout_alpha(alpha: np.ndarray | None, min_fraction: float = 0.002) -> bool:
    """True when ``alpha`` (HW float32 [0, 1] or None) has both clear background and a product."""
    if alpha is None:
        return False
    opaque = float((alpha >= 0.5).mean())
    clear = float((alpha < 0.02).mean())
    return opaque >= min_fraction and clear >= min_fraction


def segmentation_from_alpha(rgb: np.ndarray, alpha: np.ndarray) -> Segmentation:
    """Segmentation straight from the file's alpha (rgb HWC uint8, alpha HW float32 [0, 1]).

    Colours under alpha 0 are meaningless in a PNG, so the foreground is zeroed there.
    """
    foreground = rgb.copy()
    foreground[alpha <= 0] = 0
    return Segmentation(
        alpha=alpha.astype(np.float32),
        mask=alpha >= 0.5,
        foreground=foreground,
        background_rgb=(255.0, 255.0, 255.0),
        backend="alpha-channel",
        info={"source": "file alpha channel"},
    )
