"""Fast pixel access for HWC uint8 images (numpy's boolean indexing of ``(H, W, 3)`` is slow).

Each RGB pixel is viewed as one 3-byte item, so selecting N pixels by a mask is a single
1-D gather (~30x faster than ``image[mask]`` on a (H, W, 3) array).
"""

from __future__ import annotations

import cv2
import numpy as np

_RGB_ITEM = np.dtype((np.void, 3))


def gather(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image[mask]`` for HWC uint8 ``image`` and HW bool ``mask`` -> ``(N, 3)`` uint8 (row-major order)."""
    flat = np.ascontiguousarray(image).view(_RGB_ITEM).reshape(-1)
    return flat[np.ascontiguousarray(mask).reshape(-1)].view(np.uint8).reshape(-1, 3)


def differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """HW bool: True where two HWC uint8 images of one shape differ in any channel."""
    a32 = cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2RGBA).view(np.uint32)[..., 0]
    b32 = cv2.cvtColor(np.ascontiguousarray(b), cv2.COLOR_RGB2RGBA).view(np.uint32)[..., 0]
    return a32 != b32
