"""What a product is: its source key, unless its sidecar names a ``sku`` (read and checked by
:func:`pipeline.place.sidecar.sidecar_sku`), which takes precedence.

A product id is ``"key:<source key>"`` or ``"sku:<sku>"`` (the prefix keeps a key and a SKU that
happen to be spelt alike apart). The same source key in a later batch (a new photo, a changed
sidecar, a re-theme) is a new *version* of the same product. Adding a ``sku`` to a sidecar later
starts a new product under that SKU: the key's earlier versions stay under the key.
"""

from __future__ import annotations

import hashlib

from pipeline.place.sidecar import sidecar_sku  # noqa: F401 - where the product's SKU comes from

SHARD_HEX = 3  # 16**3 = 4096 shard files: at 10,000 products a shard holds 2-3 (pipeline.catalogue.store)


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
