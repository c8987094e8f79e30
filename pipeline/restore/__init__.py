"""Restore: put the product back over the scene, and repair logo/text regions when a backend
repainted the product (harmonised mode)."""

from pipeline.restore.paste import restore_product
from pipeline.restore.regions import find_logo_regions, read_sidecar_boxes

__all__ = ["restore_product", "find_logo_regions", "read_sidecar_boxes"]
