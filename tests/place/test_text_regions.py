"""Logo/text regions: the edge-density finder, the optional RapidOCR text detector, and the rule
that the project's OpenCV stays the headless build when the detector is installed."""

from __future__ import annotations

import importlib.metadata

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.config import RestoreConfig
from pipeline.place import regions
from pipeline.place import text_detector as td


def test_opencv_is_the_headless_build():
    # rapidocr-onnxruntime's wheel declares opencv-python; the [ocr] extra installs it with
    # --no-deps so that nothing replaces the headless build (README, pyproject).
    assert importlib.metadata.distribution("opencv-python-headless")
    for gui_build in ("opencv-python", "opencv-contrib-python"):
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.distribution(gui_build)


def _product_with_text(text: bool = True) -> tuple[np.ndarray, np.ndarray]:
    img = np.full((480, 480, 3), 250, np.uint8)
    mask = np.zeros((480, 480), bool)
    mask[60:420, 90:390] = True
    img[mask] = (230, 200, 150)
    cv2.rectangle(img, (92, 62), (387, 417), (120, 90, 60), 3)  # a seam along the outline
    if text:
        cv2.putText(img, "ROAST", (140, 220), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (40, 30, 20), 4, cv2.LINE_AA)
        cv2.putText(img, "COFFEE CO", (140, 290), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (40, 30, 20), 3, cv2.LINE_AA)
    return img, mask


def _covers(found, box) -> bool:
    x0, y0, x1, y1 = box
    return any(min(b[2], x1) - max(b[0], x0) > 0.5 * (x1 - x0) and min(b[3], y1) - max(b[1], y0) > 0.5 * (y1 - y0)
               for b in found)


def test_the_finder_finds_print_and_leaves_a_seam_along_the_outline_alone():
    img, mask = _product_with_text(text=False)
    assert regions.find_logo_regions(img, mask) == ()
    img, mask = _product_with_text()
    found = regions.find_logo_regions(img, mask)
    assert _covers(found, (140, 180, 270, 225))


def test_text_lines_of_one_block_are_merged_and_separate_blocks_are_not():
    lines = ((100, 100, 300, 130), (105, 138, 280, 166), (100, 400, 200, 430))
    assert td.merge_text_lines(lines) == ((100, 100, 300, 166), (100, 400, 200, 430))
    assert td.merge_text_lines(()) == ()


def test_merge_boxes_puts_the_detector_first_and_caps_the_finder():
    det = ((0, 0, 100, 20),)
    finder = ((10, 2, 90, 18), (200, 200, 240, 240), (300, 300, 340, 340), (400, 400, 440, 440))
    merged = regions.merge_boxes(det, finder, max_regions=6, max_then=2)
    assert merged == ((0, 0, 100, 20), (200, 200, 240, 240), (300, 300, 340, 340))
    assert len(regions.merge_boxes(det, finder, max_regions=2)) == 2


def test_an_unknown_text_detector_is_a_config_error():
    assert RestoreConfig().text_detector == "none"
    with pytest.raises(ValidationError):
        RestoreConfig(text_detector="tesseract")


def test_without_the_ocr_extra_the_detector_names_the_extra(monkeypatch):
    monkeypatch.setattr(td, "detector_available", lambda: False)
    td._detector.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"\[ocr\] extra"):
            td.detect_text_boxes(*_product_with_text())
    finally:
        td._detector.cache_clear()


def test_the_rapidocr_detector_finds_the_printed_lines():
    pytest.importorskip("rapidocr_onnxruntime")
    img, mask = _product_with_text()
    boxes = td.detect_text_boxes(img, mask)
    assert _covers(boxes, (140, 180, 270, 225)) and _covers(boxes, (140, 262, 330, 295))
    both = regions.find_logo_regions(img, mask, text_detector="rapidocr")
    assert _covers(both, (140, 180, 270, 225)) and _covers(both, (140, 262, 330, 295))
    assert all(mask[b[1]:b[3], b[0]:b[2]].mean() >= td.MIN_ON_PRODUCT for b in boxes)
