"""Skip a test module, with the reason, when an optional extra is not installed (a core install).

Call at the top of a test module, before importing what the extra provides::

    from tests.needs import needs
    needs("diffusion")
"""

from __future__ import annotations

import pytest

EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "diffusion": (("torch", "diffusers", "transformers", "safetensors"), "pip install 'product-scene[diffusion]'"),
    "torch": (("torch", "safetensors"), "pip install 'product-scene[diffusion]'"),
    "sam": (("torch", "segment_anything"), "pip install 'product-scene[diffusion]'"),
    "onnx": (("onnxruntime", "onnx"), "pip install 'product-scene[onnx,dev]'"),
    "flows": (("prefect", "s3fs"), "pip install 'product-scene[flows]'"),
    "review": (("starlette", "uvicorn"), "pip install 'product-scene[review]'"),
    "browser": (("playwright",), "pip install 'product-scene[dev]'"),
}
"""Modules each optional part brings, and the install that brings them (pyproject.toml's extras)."""


def needs(*extras: str) -> None:
    """``pytest.importorskip`` every module of ``extras``; skips the calling module when one is missing."""
    for extra in extras:
        modules, install = EXTRAS[extra]
        for module in modules:
            pytest.importorskip(module, reason=f"needs {module}: {install}")


def reference(module: str) -> object:
    """``module`` of scikit-image, the reference implementation some tests compare against (the dev
    and bench extras; the library itself never imports it). Skips the calling test without it."""
    return pytest.importorskip(module, reason="needs scikit-image, the reference: pip install 'product-scene[dev]'")
