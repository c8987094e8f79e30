"""The sidecar ``<name>.json`` next to a photo: parsing, the logo boxes and the SKU it names."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from pipeline.types import BoxXYXY

SKU_FIELD = "sku"
SKU_MAX_CHARS = 255  # Shopify's and WooCommerce's SKU limit, the longest of the shop systems we know


def read_sidecar_boxes(sidecar: dict[str, Any] | None, image_hw: tuple[int, int]) -> tuple[BoxXYXY, ...] | None:
    """``logo_boxes`` from a parsed sidecar (``[[x0, y0, x1, y1], ...]`` in input pixels).

    Returns None when the sidecar has no such key (then regions are found automatically);
    raises ValueError naming the bad entry otherwise. Boxes are clipped to the image.
    """
    if not sidecar or "logo_boxes" not in sidecar:
        return None
    raw = sidecar["logo_boxes"]
    if not isinstance(raw, list):
        raise ValueError(f"sidecar logo_boxes must be a list of [x0, y0, x1, y1], got {type(raw).__name__}")
    h, w = image_hw
    boxes = []
    for i, box in enumerate(raw):
        if not (isinstance(box, list | tuple) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise ValueError(f"sidecar logo_boxes[{i}] must be [x0, y0, x1, y1] numbers, got {box!r}")
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, x1 = max(0, min(x0, x1)), min(w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(h, max(y0, y1))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            boxes.append((x0, y0, x1, y1))
    return tuple(boxes)


def parse_sidecar(data: bytes, name: str) -> dict[str, Any]:
    """Parse sidecar JSON bytes into a dict; ValueError with the file name on bad JSON."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"sidecar {name} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"sidecar {name} must be a JSON object")
    return parsed


def sidecar_sku(sidecar: Mapping[str, Any] | None) -> str | None:
    """The ``sku`` a parsed sidecar names (stripped), None when it names none.

    ``ValueError`` naming the field for a SKU that is not a non-empty string or whole number of at
    most ``SKU_MAX_CHARS`` characters without control characters."""
    if not sidecar or sidecar.get(SKU_FIELD) is None:
        return None
    raw = sidecar[SKU_FIELD]
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"sidecar field {SKU_FIELD!r} must be text, got {type(raw).__name__}")  # noqa: TRY004
    text = str(raw).strip()
    if not text:
        raise ValueError(f"sidecar field {SKU_FIELD!r} is empty")
    if len(text) > SKU_MAX_CHARS:
        raise ValueError(f"sidecar field {SKU_FIELD!r} is longer than {SKU_MAX_CHARS} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValueError(f"sidecar field {SKU_FIELD!r} contains control characters")
    return text
