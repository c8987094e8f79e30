"""The report's thumbnail sprite: one tile per view, aspect kept, never upscaled."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.report.thumbnails import TILE_BACKGROUND, TILE_PX, fit_tile, sprite_jpeg, sprite_views


def test_fit_tile_keeps_the_aspect_centres_and_never_upscales():
    wide = np.zeros((300, 1200, 3), np.uint8)
    wide[:, :600] = (255, 0, 0)
    tile = fit_tile(wide)
    assert tile.shape == (TILE_PX, TILE_PX, 3)
    rows = np.flatnonzero((tile != TILE_BACKGROUND).any(axis=(1, 2)))
    assert rows.size == TILE_PX // 4 and rows[0] == (TILE_PX - TILE_PX // 4) // 2  # 4:1, centred
    assert tile[TILE_PX // 2, 10].tolist() == [255, 0, 0] and tile[TILE_PX // 2, TILE_PX - 10].tolist() == [0, 0, 0]
    small = fit_tile(np.full((20, 10, 3), 7, np.uint8))
    assert (small != TILE_BACKGROUND).any(axis=2).sum() == 20 * 10  # not upscaled


def test_fit_tile_averages_areas_like_one_area_resize():
    yy, xx = np.mgrid[0:1000, 0:960]
    photo = np.dstack([xx * 255 // 960, yy * 255 // 1000, (xx + yy) % 256]).astype(np.uint8)
    photo[200:700, 300:600] = (20, 200, 90)
    cv2.putText(photo, "LOGO", (320, 450), cv2.FONT_HERSHEY_SIMPLEX, 4, (250, 250, 250), 12)
    ours = fit_tile(photo)[:, 3:157]  # 160 x 154 inside the tile
    direct = cv2.resize(photo, (154, 160), interpolation=cv2.INTER_AREA)
    assert np.abs(ours.astype(int) - direct.astype(int)).mean() < 2.0


def test_masks_and_gray_views_become_grey_tiles():
    mask = np.zeros((400, 400), bool)
    mask[100:300, 100:300] = True
    tile = fit_tile(mask)
    assert tile[TILE_PX // 2, TILE_PX // 2].tolist() == [255, 255, 255] and tile[5, 5].tolist() == [0, 0, 0]


def test_sprite_has_one_tile_per_view_in_view_order():
    views = {"composite": np.full((50, 50, 3), 200, np.uint8), "original": np.zeros((50, 50, 3), np.uint8),
             "mask": np.ones((50, 50), bool), "something": np.zeros((5, 5, 3), np.uint8)}
    assert sprite_views(views) == ["original", "mask", "composite"]
    sprite = cv2.imdecode(np.frombuffer(sprite_jpeg(views), np.uint8), cv2.IMREAD_COLOR)
    assert sprite.shape == (TILE_PX, 3 * TILE_PX, 3)
    centres = [int(sprite[TILE_PX // 2, TILE_PX * k + TILE_PX // 2].mean()) for k in range(3)]
    assert centres[0] < 20 and centres[1] > 235 and 185 < centres[2] < 215
    with pytest.raises(ValueError, match="no known view"):
        sprite_jpeg({"other": np.zeros((4, 4, 3), np.uint8)})
