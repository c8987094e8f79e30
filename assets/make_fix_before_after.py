"""Draw assets/fix_before_after.jpg: one cut-out fixed by one click (for the README's review section).

    python assets/make_fix_before_after.py      # rewrites assets/fix_before_after.jpg

The generated sample ``box_white`` keeps a chunk of its floor shadow with the classical
segmenter, and the gate fails it. One "remove" click, placed where bench/eval_fix.py's simulated
reviewer puts it (inside the largest wrong region, from the sample's exact ground truth), is
refined by :mod:`pipeline.segment.refine` and re-rendered through the library's own stages; the
verdict is recomputed. Panels: before (outline on the photo, composite, verdict) | after.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from eval_fix import next_click

from pipeline.compose import build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.fix import rerender
from pipeline.io.imageio import encode_jpeg, encode_png
from pipeline.samples import render_sample
from pipeline.segment.refine import RefineSession, build_refiner, photo_sha256

OUT = Path(__file__).resolve().parent / "fix_before_after.jpg"
PRODUCT = "box_white"
PANEL = 360  # px, each square panel
OUTLINE = (230, 40, 40)


def _outlined(rgb: np.ndarray, mask: np.ndarray, click=None) -> np.ndarray:
    """The photo with the mask's outline (and the click, green keep / red remove), PANEL high."""
    out = rgb.copy()
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, OUTLINE, max(2, rgb.shape[0] // 250), cv2.LINE_AA)
    if click is not None:
        x, y = (round(v) for v in click.points[0])
        r = max(6, rgb.shape[0] // 60)
        cv2.circle(out, (x, y), r, (40, 190, 60) if click.kind == "keep" else (230, 40, 40), -1, cv2.LINE_AA)
        cv2.circle(out, (x, y), r, (0, 0, 0), 2, cv2.LINE_AA)
    return _fit(out)


def _fit(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = PANEL / max(h, w)
    small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((PANEL, PANEL, 3), 255, np.uint8)
    y, x = (PANEL - small.shape[0]) // 2, (PANEL - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas


def _caption(panels: list[np.ndarray], text: str, verdict) -> np.ndarray:
    row = np.concatenate([panels[0], np.full((PANEL, 6, 3), 255, np.uint8), panels[1]], axis=1)
    band = np.full((46, row.shape[1], 3), 255, np.uint8)
    colour = (30, 140, 50) if verdict.passed else (200, 30, 30)
    cv2.putText(band, text, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    reason = verdict.label.upper() + (f": {verdict.reasons[0]}" if verdict.reasons else "")
    cv2.putText(band, reason[:80], (8, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return np.concatenate([band, row], axis=0)


def main() -> None:
    config = PipelineConfig()
    stages = build_stages(config)
    sample = render_sample(PRODUCT)
    data = encode_png(sample.rgb)
    before = process_product(data, name=PRODUCT, config=config, stages=stages, seed=0)
    session = RefineSession(build_refiner(config, before.segmentation.backend), before.decoded.rgb,
                            before.segmentation, photo_sha256(data))
    click = next_click(before.segmentation.mask, sample.mask)
    fixed = session.add(click)
    after = rerender(data, fixed, name=PRODUCT, config=config, stages=stages, seed=0)
    left = _caption([_outlined(sample.rgb, before.segmentation.mask), _fit(before.composite)],
                    "before: the segmenter's cut-out", before.verdict)
    right = _caption([_outlined(sample.rgb, fixed.mask, click), _fit(after.composite)],
                     f"after one '{click.kind}' click", after.verdict)
    sheet = np.concatenate([left, np.full((left.shape[0], 16, 3), 255, np.uint8), right], axis=1)
    OUT.write_bytes(encode_jpeg(sheet, quality=88))
    print(OUT)


if __name__ == "__main__":
    main()
