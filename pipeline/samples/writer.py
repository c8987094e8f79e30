"""Write samples to a folder: photo, sidecar JSON, ground-truth mask and alpha (atomically)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from pipeline.samples.catalog import SAMPLE_SPECS
from pipeline.samples.render import Sample, _check_name, render_sample
from pipeline.io.storage import atomic_write_file as atomic_write

log = logging.getLogger(__name__)

JPEG_QUALITY = 95
GROUND_TRUTH_DIR = "_ground_truth"  # leading "_": batch listings skip it


def _encode(image: np.ndarray, fmt: str) -> bytes:
    """Encode HWC RGB uint8 or HW uint8 as ``jpg`` (quality 95) or ``png``."""
    img = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if fmt == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode("." + fmt, img, params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {fmt} image of shape {image.shape}")
    return buf.tobytes()


def sidecar(sample: Sample) -> dict:
    """The JSON the pipeline reads next to each photo: prompt metadata and logo boxes."""
    return {
        "category": sample.meta["category"],
        "colour": sample.meta["colour"],
        "logo_boxes": [list(b) for b in sample.logo_boxes],
    }


def write_sample(sample: Sample, dest_dir: Path) -> Path:
    """Write one rendered sample into ``dest_dir``; returns the photo's path.

    Files: ``<name>.jpg|png``, ``<name>.json``, ``_ground_truth/<name>_mask.png`` (255 = product),
    ``_ground_truth/<name>_alpha.png`` (8-bit alpha).
    """
    dest_dir = Path(dest_dir)
    fmt = sample.meta["fmt"]
    photo = dest_dir / f"{sample.name}.{fmt}"
    gt = dest_dir / GROUND_TRUTH_DIR
    atomic_write(gt / f"{sample.name}_mask.png", _encode(sample.mask.astype(np.uint8) * 255, "png"))
    atomic_write(gt / f"{sample.name}_alpha.png", _encode(np.rint(sample.alpha * 255).astype(np.uint8), "png"))
    atomic_write(dest_dir / f"{sample.name}.json", (json.dumps(sidecar(sample), indent=2) + "\n").encode("utf-8"))
    atomic_write(photo, _encode(sample.rgb, fmt))  # the photo last: once it exists, its sidecar does too
    return photo


def write_samples(dest_dir: Path, names: Iterable[str] | None = None, seed: int = 0) -> list[Path]:
    """Render and write samples (all of ``SAMPLE_SPECS`` when ``names`` is None).

    Returns the photo paths in ``names`` order. Deterministic for a given ``seed``; every file
    is written atomically (temp file + ``os.replace``). Unknown names raise ``ValueError``
    before anything is written.
    """
    chosen = list(SAMPLE_SPECS) if names is None else list(names)
    if isinstance(names, str):
        raise TypeError(f"names must be a list of sample names, not a string: {names!r}")
    for name in chosen:
        _check_name(name)
    out = []
    for name in chosen:
        out.append(write_sample(render_sample(name, seed=seed), Path(dest_dir)))
        log.debug("wrote sample %s to %s", name, out[-1])
    return out
