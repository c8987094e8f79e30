"""Typed errors. Each carries a one-line, human-readable reason."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class for errors the batch turns into an ``error`` item (never retried)."""


class ImageDecodeError(PipelineError, ValueError):
    """Bytes that are not a usable image: empty, truncated, unknown format, bomb, …"""


class SegmentationError(PipelineError, ValueError):
    """No product could be separated from the background."""


class UnsafeKeyError(PipelineError, ValueError):
    """An object key that would escape the destination (``../``, absolute, control chars)."""


class BackendUnavailableError(PipelineError, RuntimeError):
    """A backend whose weights or packages are missing here; the message says what to install."""


class InputTooLargeError(ImageDecodeError):
    """A file over its size limit; ``size`` (bytes, None when unknown) and ``limit`` say by how much."""

    def __init__(self, message: str, size: int | None = None, limit: int | None = None):
        super().__init__(message)
        self.size, self.limit = size, limit


class NotRegularFileError(PipelineError, ValueError):
    """A source entry that is not a regular file (a FIFO, socket or device): never opened."""


class SidecarError(PipelineError, ValueError):
    """A photo's sidecar ``<name>.json`` that cannot be used; the message names the sidecar and the field."""
