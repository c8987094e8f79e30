"""Restore: put the product back over the scene, and repair logo/text regions when a backend
repainted the product (harmonised mode)."""

from pipeline.restore.paste import restore_product

__all__ = ["restore_product"]
