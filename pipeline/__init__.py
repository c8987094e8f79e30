"""product-scene: product photos on white -> product-in-scene images + consistency reports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("product-scene")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"

__all__ = ["__version__"]
