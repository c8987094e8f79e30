"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.config import PlacementConfig
from pipeline.scene.placement import compute_placement, place_product
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.types import PlacedProduct
from tests.synthetic import bottle_on_white

PRODUCTS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "products"


@pytest.fixture(scope="session")
def bottle() -> tuple[np.ndarray, np.ndarray]:
    return bottle_on_white()


@pytest.fixture(scope="session")
def placed_bottle(bottle) -> PlacedProduct:
    rgb, _ = bottle
    seg = ClassicalSegmenter()(rgb)
    placement = compute_placement(seg.mask, PlacementConfig(long_side=256))
    return place_product(seg.foreground, seg.alpha, placement, ((60, 110, 140, 160),))


@pytest.fixture(scope="session")
def products_dir() -> Path:
    if not (PRODUCTS_DIR / "images").is_dir():
        pytest.skip(f"real product photos not present at {PRODUCTS_DIR}")
    return PRODUCTS_DIR
