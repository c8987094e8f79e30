"""What a product is: its source key, unless its sidecar names a ``sku``, which takes precedence.

A product id is ``"key:<source key>"`` or ``"sku:<sku>"`` (the prefix keeps a key and a SKU that
happen to be spelt alike apart). The same source key in a later batch (a new photo, a changed
sidecar, a re-theme) is a new *version* of the same product. Adding a ``sku`` to a sidecar later
starts a new product under that SKU: the key's earlier versions stay under the key.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any

SKU_FIELD = "sku"
SKU_MAX_CHARS = 255  # Shopify's and WooCommerce's SKU limit, the longest of the shop systems we know
SHARD_HEX = 3  # 16**3 = 4096 shard files: at 10,000 products a shard holds 2-3 (pipeline.catalogue.store)


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


def product_id(source_key: str, sku: str | None = None) -> str:
    """``"sku:<sku>"`` when there is a SKU, else ``"key:<source key>"``."""
    if sku:
        return f"sku:{sku}"
    if not isinstance(source_key, str) or not source_key:
        raise ValueError(f"a product needs a source key or a SKU, got {source_key!r}")
    return f"key:{source_key}"


def product_label(pid: str) -> str:
    """What people call the product: the SKU or the source key, in full."""
    return pid.split(":", 1)[1] if pid.startswith(("key:", "sku:")) else pid


def shard_of(pid: str) -> str:
    """The shard file a product lives in: the first ``SHARD_HEX`` hex digits of sha256(pid)."""
    return hashlib.sha256(pid.encode("utf-8", "surrogateescape")).hexdigest()[:SHARD_HEX]
