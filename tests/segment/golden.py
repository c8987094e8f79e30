"""Golden IoU pins of the classical segmenter: what is measured, and how to re-measure it.

``python -m tests.segment.golden`` (from the repository root; ``PRODUCT_SCENE_PRODUCTS`` names the
real photos when they are not at ../shared/products) prints the IoUs as JSON, to paste into
``golden_iou.json`` after a deliberate change; ``test_golden.py`` pins each at the value minus
``MARGIN``. Real photos are resampled to ``REAL_SIDE`` long side first, so the two work sizes both
matter and the whole test stays CI-sized.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from pipeline.config import SegmentConfig
from pipeline.io.imageio import decode_image
from pipeline.samples import SAMPLE_SPECS, render_sample
from pipeline.imaging import iou
from pipeline.segment.classical import ClassicalSegmenter

SAMPLE_SIDES = (512, 1024)  # work sizes the generated samples are pinned at (the default, and twice it)
REAL_SIDES = (512, 768)  # work sizes the real photos are pinned at
REAL_SIDE = 768  # real photos are resampled to this long side first (speed; 768 > 512 keeps both sizes apart)
PINS = Path(__file__).with_name("golden_iou.json")


def sample_photo(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(rgb HWC uint8 as a user's file would hold it: JPEG quality 95 for jpg samples; truth HW bool)."""
    sample = render_sample(name)
    rgb = sample.rgb
    if sample.meta["fmt"] == "jpg":
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        rgb = decode_image(buf.tobytes()).rgb
    return rgb, sample.mask


def real_photo(products: Path, stem: str) -> tuple[np.ndarray, np.ndarray]:
    """(rgb resampled to ``REAL_SIDE`` long side, its mask resampled the same way) of a real photo."""
    path = next(p for p in sorted((products / "images").glob(f"{stem}.*")))
    rgb = decode_image(path.read_bytes(), name=path.name).rgb
    m = cv2.imread(str(products / "masks" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
    m = m[..., 3] if m.ndim == 3 and m.shape[2] == 4 else (m[..., 0] if m.ndim == 3 else m)
    h, w = rgb.shape[:2]
    s = min(1.0, REAL_SIDE / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    truth = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 128
    return rgb, truth


def real_stems(products: Path) -> list[str]:
    """Stems of the photos with a mask (the mockups included)."""
    return sorted(p.stem for p in (products / "masks").glob("*.png"))


def measure(products: Path | None) -> dict[str, dict[str, dict[str, float]]]:
    """{"samples": {name: {side: IoU}}, "real": {stem: {side: IoU}}} (real only when ``products``)."""
    out: dict[str, dict[str, dict[str, float]]] = {"samples": {}, "real": {}}
    for name in SAMPLE_SPECS:
        rgb, truth = sample_photo(name)
        out["samples"][name] = {str(side): round(iou(ClassicalSegmenter(SegmentConfig(work_side=side))(rgb).mask,
                                                      truth), 4) for side in SAMPLE_SIDES}
    if products is not None:
        for stem in real_stems(products):
            rgb, truth = real_photo(products, stem)
            out["real"][stem] = {str(side): round(iou(ClassicalSegmenter(SegmentConfig(work_side=side))(rgb).mask,
                                                       truth), 4) for side in REAL_SIDES}
    return out


if __name__ == "__main__":
    from tests.conftest import PRODUCTS_DIR

    found = PRODUCTS_DIR if (PRODUCTS_DIR / "masks").is_dir() else None
    json.dump(measure(found), sys.stdout, indent=1, sort_keys=True)
    print()
