"""product-scene: product photos on white -> product-in-scene images + consistency reports.

The objects a user calls, imported on first use so that ``import pipeline`` stays cheap::

    import pipeline

    config = pipeline.load_config("sd15")            # a YAML file, or a shipped preset's name
    stages = pipeline.build_stages(config)           # segmenter, depth, scene backend, theme
    result = pipeline.process_product(photo_bytes, name="mug.jpg", config=config, stages=stages, seed=0)
    batch_id, report, records = pipeline.run_batch("photos/", "out/", config)
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("product-scene")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"

_EXPORTS = {
    "load_config": "pipeline.config",
    "PipelineConfig": "pipeline.config",
    "build_stages": "pipeline.compose",
    "process_product": "pipeline.compose",
    "run_batch": "pipeline.batch",
}

__all__ = ["PipelineConfig", "__version__", "build_stages", "load_config", "process_product", "run_batch"]

if TYPE_CHECKING:
    from pipeline.batch import run_batch
    from pipeline.compose import build_stages, process_product
    from pipeline.config import PipelineConfig, load_config


def __getattr__(name: str) -> Any:
    """Import an exported object on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
