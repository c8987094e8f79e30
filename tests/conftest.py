"""Shared fixtures."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import PlacementConfig
from pipeline.place.placement import compute_placement, place_product
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.types import PlacedProduct
from tests.needs import needs
from tests.synthetic import bottle_on_white

# ../shared/products from the repository root; PRODUCT_SCENE_PRODUCTS names another copy (a worktree).
PRODUCTS_DIR = Path(os.environ.get("PRODUCT_SCENE_PRODUCTS") or Path(__file__).resolve().parents[1].parent / "shared"
                    / "products")


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


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Tiny random-weight models of the real architectures, built once per test session."""
    needs("diffusion", "sam")
    from tests.fixtures.tiny_models import tiny_models

    return tiny_models(tmp_path_factory)


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a module (2-core machines thrash with more), restored after."""
    if importlib.util.find_spec("torch") is None:  # a core install: nothing to limit
        yield
        return
    from tests.fixtures.tiny_models import torch_threads

    with torch_threads(1):
        yield
