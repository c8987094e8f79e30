"""A reviewer's stored fix, applied again when a photo is processed again (same photo bytes only).

A fix saved from the review page (:mod:`pipeline.review.fixing`) is a version of its product
whose ``corrections.json`` holds the clicks (:class:`pipeline.segment.refine.Corrections`, tied
to the sha256 of the photo's bytes). When the batch runs again into the same DEST (``--reprocess``,
a new theme, a new output size), :func:`stored_fix_segmentation` gives the item's cut-out with
the product's newest fix replayed on the segmenter's mask (:func:`pipeline.fix.fixed_segmentation`)
when that fix was made on exactly these bytes and is not rejected; the batch hands it to
:func:`pipeline.compose.process_product` (``segmentation=``), so the rerun reproduces the fixed
mask, and its ``meta.json`` says which fix it replayed (``segment_info.stored_fix``). Other bytes
under the same key, and products without a fix, get None: segmented as always. Looking a fix up
costs one read of the product's catalogue shard per item.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

from pipeline.catalogue.homes import MAX_SMALL_JSON_BYTES, read_many
from pipeline.catalogue.model import effective, ordered_versions
from pipeline.catalogue.products import product_id, shard_of, sidecar_sku
from pipeline.catalogue.store import MAX_SHARD_BYTES, SHARD_DIR
from pipeline.compose import Stages
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.segment.refine.corrections import Corrections
from pipeline.types import Segmentation

log = logging.getLogger(__name__)

STORED_FIX_KEY = "stored_fix"  # the segmentation's info entry (meta.json's segment_info) naming the replayed fix


def read_product(dest: Bucket, pid: str) -> dict[str, Any] | None:
    """The product's catalogue record, read from its shard without a write store (None when
    there is no catalogue, no such product, or the shard cannot be read: the item goes on)."""
    key = f"{SHARD_DIR}/{shard_of(pid)}.json"
    data = read_many(dest, [key], MAX_SHARD_BYTES).get(key)
    if data is None:
        return None
    try:
        doc = json.loads(data)
        product = doc["products"].get(pid)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("%s cannot be read (%s): stored fixes are not looked up", key, exc)
        return None
    return product if isinstance(product, dict) else None


def read_corrections(dest: Bucket, version: Mapping[str, Any]) -> Corrections | None:
    """The corrections a fix version points at (None when it has none or they cannot be read)."""
    key = version.get("corrections")
    if not isinstance(key, str) or not key:
        return None
    data = read_many(dest, [key], MAX_SMALL_JSON_BYTES).get(key)
    if data is None:
        log.warning("%s: its corrections %s cannot be read", version.get("id"), key)
        return None
    try:
        return Corrections.from_json(json.loads(data))
    except ValueError as exc:
        log.warning("%s: its corrections %s are not valid (%s)", version.get("id"), key, exc)
        return None


def stored_corrections(dest: Bucket, key: str, sidecar: Mapping[str, Any] | None,
                       content_hash: str) -> tuple[str, Corrections] | None:
    """(fix version id, corrections) of the newest fix of ``key``'s product made on the photo whose
    bytes hash to ``content_hash`` and not rejected; None when there is none."""
    product = read_product(dest, product_id(key, sidecar_sku(sidecar)))
    if product is None:
        return None
    for version in reversed(ordered_versions(product)):
        if version.get("origin") != "fix" or not version.get("corrections"):
            continue
        if effective(product, version)[0] == "rejected":
            continue
        corrections = read_corrections(dest, version)
        if corrections is not None and corrections.photo_sha256 == content_hash:
            return version["id"], corrections
    return None


def stored_fix_segmentation(dest: Bucket | None, data: bytes, *, content_hash: str, name: str,
                            sidecar: Mapping[str, Any] | None, config: PipelineConfig,
                            stages: Stages) -> Segmentation | None:
    """The cut-out with the product's stored fix replayed, for ``process_product(segmentation=)``;
    None when DEST holds no fix for these photo bytes (see the module docstring)."""
    found = stored_corrections(dest, name, sidecar, content_hash) if dest is not None else None
    if found is None:
        return None
    version_id, corrections = found
    try:
        from pipeline.fix import fixed_segmentation

        applied = fixed_segmentation(data, corrections, name=name, config=config, stages=stages)
    except ImportError as exc:  # the refinement needs the review extra (scikit-image)
        log.warning("%s: the fix %s is not replayed (%s); install product-scene[review]", name, version_id, exc)
        return None
    log.info("%s: replayed the fix %s (%d clicks)%s", name, version_id, len(corrections.clicks),
             "" if applied.applied else f": not applied, {applied.reason}")
    record = {"version": version_id, "clicks": len(corrections.clicks), "applied": applied.applied,
              "reason": applied.reason, "notes": list(applied.notes)}
    seg = applied.segmentation
    return dataclasses.replace(seg, info={**seg.info, STORED_FIX_KEY: record})
