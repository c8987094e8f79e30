"""Debian's Chromium driven by Playwright (never Playwright's own browser download)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def shot(locator) -> np.ndarray:
    """A screenshot of an element as HWC uint8 RGB."""
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))


def changed_fraction(a: np.ndarray, b: np.ndarray, tol: int = 12) -> float:
    """Fraction of pixels whose largest channel difference exceeds ``tol`` (same-size images)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > tol).mean())
