"""Report thumbnails: one small JPEG per item (``thumbs.jpg`` in its folder) with one tile per view.

The sprite is a row of ``TILE_PX`` x ``TILE_PX`` tiles, each view scaled to fit its tile (aspect
kept, never upscaled) and centred on ``TILE_BACKGROUND``, in the order of :data:`VIEWS` that the
item has. report.html draws tile k of ``<item_id>/thumbs.jpg`` by its background position, so the
page embeds no image data and the browser loads a sprite only when its card is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pipeline.io.imageio import encode_jpeg

VIEWS = ("original", "mask", "canny", "depth", "composite")
SPRITE_NAME = "thumbs.jpg"
TILE_PX = 160  # tile side in pixels: the report shows tiles at 128 CSS px, sharp at 125% zoom
TILE_BACKGROUND = (250, 251, 252)  # the report's empty-box colour, so letterboxing is invisible
SPRITE_QUALITY = 80  # JPEG quality of the sprite: a 3-view sprite is about 10 KB


def sprite_views(names: Sequence[str]) -> list[str]:
    """The views in ``names`` (an item's output names) in sprite order."""
    present = set(names)
    return [view for view in VIEWS if view in present]


def fit_tile(image: np.ndarray, tile_px: int = TILE_PX) -> np.ndarray:
    """``image`` (HW or HWC uint8; bool masks become 0/255) scaled to fit a ``tile_px`` square,
    centred on TILE_BACKGROUND: HxWx3 uint8 of ``tile_px`` x ``tile_px``.

    Shrinks by exact halvings first (OpenCV's fast 2x2 box path), then by area averaging to the
    tile: the same box average as one area resize, 4-10x faster on a 1 MP photo."""
    if image.dtype == bool:
        image = image.view(np.uint8) * np.uint8(255)
    h, w = image.shape[:2]
    while min(h, w) >= 2 and max(h, w) >= 2 * tile_px:
        h, w = h // 2, w // 2
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    scale = min(1.0, tile_px / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    h, w = image.shape[:2]
    tile = np.empty((tile_px, tile_px, 3), np.uint8)
    tile[:] = TILE_BACKGROUND
    y0, x0 = (tile_px - h) // 2, (tile_px - w) // 2
    tile[y0:y0 + h, x0:x0 + w] = image[..., :3]
    return tile


def sprite_jpeg(views: dict[str, np.ndarray], tile_px: int = TILE_PX) -> bytes:
    """JPEG bytes of the row of tiles for ``views`` (name -> image), in :data:`VIEWS` order."""
    names = sprite_views(views)
    if not names:
        raise ValueError(f"no known view among {sorted(views)}; expected some of {VIEWS}")
    return encode_jpeg(np.hstack([fit_tile(views[name], tile_px) for name in names]), quality=SPRITE_QUALITY)
