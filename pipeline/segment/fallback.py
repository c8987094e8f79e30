"""What the weights-based segmenters share: mask agreement, and falling back to classical."""

from __future__ import annotations

import dataclasses
import logging
import threading


from pipeline.types import Segmentation

logger = logging.getLogger(__name__)


class WarnOnce:
    """Which kinds of fallback reason a segmenter has warned about (the text before the first
    ``:``): the first of each kind is a warning, the rest debug lines; the batch report counts all."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, reason: str) -> bool:
        kind = reason.split(":", 1)[0]
        with self._lock:
            new = kind not in self._seen
            self._seen.add(kind)
        return new


def classical_fallback(base: Segmentation, reason: str, requested_backend: str, *,
                       warn: bool = True) -> Segmentation:
    """The classical segmentation, marked with why ``requested_backend`` was not used (a warning
    when ``warn``, else a debug line; meta.json carries ``segment_info.fallback_reason``)."""
    if warn:
        logger.warning("%s fallback to %s: %s (not logged again for this kind of reason; the batch "
                       "report counts every fallback)", requested_backend.upper(), base.backend, reason)
    else:
        logger.debug("%s fallback to %s: %s", requested_backend.upper(), base.backend, reason)
    info = {**base.info, "fallback_reason": reason, "requested_backend": requested_backend}
    return dataclasses.replace(base, info=info)
