"""Text boxes from a learned text detector: RapidOCR's PP-OCRv4 detector (optional).

``pip install -e ".[ocr]"`` installs ``rapidocr-onnxruntime`` (Apache-2.0; the detector's ONNX
weights ship inside its wheel, nothing is downloaded at run time) and its real dependencies. Its
wheel declares ``opencv-python``, which would replace the headless OpenCV build this project uses,
so the extra lists the dependencies by hand and the wheel itself is installed with ``--no-deps``
(see the README). Only the detector runs (no recognition): it marks every line of printed text,
which the edge-density finder (:mod:`pipeline.place.regions`) misses on low-contrast or small
print.

:func:`detect_text_boxes` runs it on the product's bounding box and keeps the boxes that lie
mostly on the product; :func:`merge_text_lines` joins the lines of one block (a label's
paragraph), so a few boxes cover it.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.types import BoxXYXY

log = logging.getLogger(__name__)

# --- Named constants. The detector's own settings are RapidOCR's defaults (its config.yaml),
# except the input size: the long side is capped at DETECT_SIDE (its default scales the *short*
# side up to 736, several times slower on tall product photos for no recall on text_regions/).
PACKAGE = "rapidocr_onnxruntime"
MODEL_FILE = "models/ch_PP-OCRv4_det_infer.onnx"
DETECT_SIDE = 960  # px: long side the product's box is scaled to (at most) for the detector
PAD_FRAC = 0.02  # share of the box's long side added around the product's box
MIN_ON_PRODUCT = 0.5  # share of a text box that must lie on the product mask
MIN_SIDE_PX = 4  # px (input): thinner boxes are dropped
LINE_GAP = 0.5  # x line height: text lines closer than this (and overlapping sideways) form one block
LINE_OVERLAP = 0.5  # share of the narrower line's width the two must share sideways
DET_SETTINGS = {"thresh": 0.3, "box_thresh": 0.5, "max_candidates": 1000, "unclip_ratio": 1.6,
                "use_dilation": True, "score_mode": "fast", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}


def detector_available() -> bool:
    """True when the ``[ocr]`` extra (rapidocr-onnxruntime) is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


@lru_cache(maxsize=1)
def _detector() -> Any:
    """The loaded detector (once per process). Raises ``RuntimeError`` naming the extra when
    rapidocr-onnxruntime is not installed."""
    if not detector_available():
        raise RuntimeError("restore.text_detector: rapidocr needs the [ocr] extra: "
                           "pip install -e \".[ocr]\" (see the README: its wheel is installed with --no-deps)")
    import rapidocr_onnxruntime
    from rapidocr_onnxruntime.ch_ppocr_det import TextDetector

    model = Path(rapidocr_onnxruntime.__file__).resolve().parent / MODEL_FILE
    config = {**DET_SETTINGS, "model_path": str(model), "limit_side_len": DETECT_SIDE, "limit_type": "max",
              "intra_op_num_threads": -1, "inter_op_num_threads": -1, "use_cuda": False, "use_dml": False}
    log.info("text detector: RapidOCR PP-OCRv4 det from %s", model)
    return TextDetector(config)


def detect_text_boxes(rgb: np.ndarray, mask: np.ndarray) -> tuple[BoxXYXY, ...]:
    """Axis-aligned boxes (input pixels, xyxy, exclusive ends) around the text lines the detector
    finds on the product. rgb: HWC uint8; mask: HW bool of the same HW, not empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return ()
    h, w = mask.shape
    pad = round(PAD_FRAC * max(ys[-1] - ys[0], xs[-1] - xs[0]))
    y0, y1 = max(0, int(ys[0]) - pad), min(h, int(ys[-1]) + 1 + pad)
    x0, x1 = max(0, int(xs[0]) - pad), min(w, int(xs[-1]) + 1 + pad)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])  # the detector reads BGR
    quads, _ = _detector()(crop)
    if quads is None or len(quads) == 0:
        return ()
    boxes = []
    for quad in np.asarray(quads, np.float32):
        bx0, by0 = (int(np.floor(v)) for v in quad.min(axis=0))
        bx1, by1 = (int(np.ceil(v)) + 1 for v in quad.max(axis=0))
        box = (bx0 + x0, by0 + y0, min(w, bx1 + x0), min(h, by1 + y0))
        if box[2] - box[0] < MIN_SIDE_PX or box[3] - box[1] < MIN_SIDE_PX:
            continue
        if float(mask[box[1]:box[3], box[0]:box[2]].mean()) >= MIN_ON_PRODUCT:
            boxes.append(box)
    return tuple(boxes)


def merge_text_lines(boxes: tuple[BoxXYXY, ...]) -> tuple[BoxXYXY, ...]:
    """Boxes (xyxy) with the lines of one block joined: two boxes whose vertical gap is at most
    ``LINE_GAP`` of the smaller height and that share ``LINE_OVERLAP`` of the narrower width
    sideways become their bounding box, until no two do."""
    out = [tuple(b) for b in boxes]
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                height = min(a[3] - a[1], b[3] - b[1])
                gap = max(a[1], b[1]) - min(a[3], b[3])
                side = min(a[2], b[2]) - max(a[0], b[0])
                if gap <= LINE_GAP * height and side > LINE_OVERLAP * min(a[2] - a[0], b[2] - b[0]):
                    out[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return tuple(out)
