"""An item's outputs: the files (composite, mask, the original in the composite's frame, the
report's thumbnail sprite; the control maps with ``output.debug_outputs``), ``meta.json`` and
notes, each file written atomically with ``meta.json`` last (its presence marks the item complete).

Layout: ``DEST/<batch_id>/<item_id>/{composite.<png|jpg|webp>,mask.png,original.png,thumbs.jpg}``
(+ ``canny.png``, ``depth.png``) and ``meta.json``. Each is written once: one PUT per file on S3.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import cv2
import numpy as np

from pipeline import __version__
from pipeline.config import PipelineConfig
from pipeline.io.imageio import encode_image, encode_png
from pipeline.io.storage import Bucket
from pipeline.report.thumbnails import SPRITE_NAME, sprite_jpeg
from pipeline.review.views import original_in_frame
from pipeline.types import ProductResult

COMPOSITE_SUFFIX = {"png": "png", "jpeg": "jpg", "webp": "webp"}


def gray_to_png(mask: np.ndarray) -> bytes:
    return encode_png((mask.astype(np.uint8) * 255) if mask.dtype == bool else mask)


def encode_outputs(config: PipelineConfig, config_hash: str, config_inputs: dict[str, Any], key: str,
                   content_hash: str, result: ProductResult) -> tuple[dict[str, bytes], dict[str, Any]]:
    """(file name -> bytes in writing order, meta.json dict). The composite in
    ``config.output.format``; mask, original and control maps PNG; the report's sprite JPEG."""
    fmt, quality = config.output.format, config.output.quality
    suffix = COMPOSITE_SUFFIX[fmt]
    files = {
        f"composite.{suffix}": encode_image(result.composite, fmt, quality),
        "mask.png": gray_to_png(result.segmentation.mask),
    }
    if config.output.debug_outputs:
        files["canny.png"] = encode_png(result.control.canny[..., 0])
        files["depth.png"] = encode_png(result.control.depth[..., 0])
    # the input photo in the composite's frame, for the review page (pipeline.review)
    files["original.png"] = encode_png(original_in_frame(result.decoded.rgb, result.placed))
    files[SPRITE_NAME] = sprite_jpeg(thumbnail_views(result, debug_outputs=config.output.debug_outputs))
    meta = {
        "source": key, "content_sha256": content_hash, "config_hash": config_hash,
        "config_hash_inputs": config_inputs, "config": config.model_dump(mode="json"),  # the review page's fixes re-render with it
        "package_version": __version__, "versions": versions(),
        "verdict": result.verdict.label, "reasons": list(result.verdict.reasons),
        "metrics": result.metrics.as_dict(), "timings_ms": result.timings_ms,
        "source_icc_profile": result.decoded.info.get("icc_profile"),
        **result.provenance,
    }
    if len(result.variants) > 1:
        meta["variants"] = []
        for k, variant in enumerate(result.variants):
            files[f"composite_v{k}.{suffix}"] = encode_image(variant.composite, fmt, quality)
            meta["variants"].append({"composite": f"composite_v{k}.{suffix}", "verdict": variant.verdict.label,
                                     "reasons": list(variant.verdict.reasons),
                                     "metrics": variant.metrics.as_dict(), "seed": variant.scene.info.get("seed")})
    # the catalogue's version of this item is its composites' bytes (pipeline.catalogue.homes)
    meta["composite_sha256"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n.startswith("composite")}
    return files, meta


def write_files(dest: Bucket, prefix: str, files: dict[str, bytes], meta: dict[str, Any]) -> dict[str, str]:
    """Each file atomically, ``meta.json`` last so its presence means the item is whole.
    Returns output name (``composite``, ``mask``, ..., ``meta``) -> written path or URL."""
    outputs = {name.rpartition(".")[0]: dest.write_bytes(f"{prefix}/{name}", data) for name, data in files.items()}
    outputs["meta"] = dest.write_text(f"{prefix}/meta.json", json.dumps(meta, indent=2, default=str))
    return outputs


def notes(result: ProductResult) -> tuple[str, ...]:
    """What a reviewer should know that the gate does not say (first frame only, colour profile)."""
    info = result.decoded.info
    notes = []
    if (info.get("n_frames") or 1) > 1:
        notes.append(f"first frame of {info['n_frames']} only ({info.get('format')})")
    icc = info.get("icc_profile") or {}
    if icc.get("converted"):
        notes.append(f"colours converted to sRGB from {icc.get('description')}")
    elif icc.get("error"):
        notes.append(f"ICC profile {icc.get('description')} not applied: {icc['error']}")
    return tuple(notes)


def fallbacks(result: ProductResult) -> dict[str, str]:
    """stage -> why the configured backend was not used (the SAM segmenter falling back)."""
    reason = result.segmentation.info.get("fallback_reason")
    return {"segment": str(reason)} if reason else {}


def thumbnail_views(result: ProductResult, *, debug_outputs: bool = False) -> dict[str, np.ndarray]:
    """The report's views of one item (the files it writes): view name -> image."""
    views = {"original": result.decoded.rgb, "mask": result.segmentation.mask, "composite": result.composite}
    if debug_outputs:
        views.update(canny=result.control.canny, depth=result.control.depth)
    return views


def versions() -> dict[str, str]:
    return {"numpy": np.__version__, "opencv": cv2.__version__}
