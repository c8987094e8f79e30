"""Argument checks shared by the scoring functions: a clear ``ValueError`` naming the argument."""

from __future__ import annotations

import numpy as np


def check_image_and_mask(image: object, mask: object, image_name: str) -> None:
    """``image`` must be HxWx3 uint8, ``mask`` an HxW bool array of its size with a pixel set."""
    if (not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3
            or image.shape[2] != 3):
        raise ValueError(f"{image_name} must be an HxWx3 uint8 array, got {getattr(image, 'dtype', None)} "
                         f"{getattr(image, 'shape', None)}")
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != image.shape[:2]:
        raise ValueError(f"mask must be an HxW bool array with the {image_name}'s (H, W) = {image.shape[:2]}, "
                         f"got {getattr(mask, 'dtype', None)} {getattr(mask, 'shape', None)}")
    if not mask.any():
        raise ValueError(f"mask is empty: there is no product in the {image_name}")
