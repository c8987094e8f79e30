"""Process-wide load-once cache for models and pipelines.

Loading a diffusion pipeline takes seconds to minutes, so each distinct (sources, device, dtype)
is loaded once per process and reused across a batch. Every entry carries its own
``threading.Lock``: a pipeline is stateful (scheduler timesteps, IP-Adapter scales), so callers
hold ``entry.lock`` for the whole of a call and never use one pipeline from two threads at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class CachedModel(Generic[T]):
    """A loaded model plus the lock that serialises its use and its provenance."""

    key: str
    value: T
    lock: threading.Lock = field(default_factory=threading.Lock)
    provenance: dict[str, Any] = field(default_factory=dict)


_ENTRIES: dict[str, CachedModel[Any]] = {}
_LOAD_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def cache_key(parts: dict[str, Any]) -> str:
    """A stable key for ``parts`` (JSON-able: source specs, device, dtype...)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def get_or_load(
    key: str, loader: Callable[[], tuple[T, dict[str, Any]]]
) -> CachedModel[T]:
    """The entry for ``key``; ``loader() -> (value, provenance)`` runs at most once per key.

    Concurrent callers asking for the same key wait for the first load; different keys load in
    parallel. A loader that raises leaves no entry, so the next call retries.
    """
    with _GUARD:
        entry = _ENTRIES.get(key)
        if entry is not None:
            return entry
        load_lock = _LOAD_LOCKS.setdefault(key, threading.Lock())
    with load_lock:
        with _GUARD:
            entry = _ENTRIES.get(key)
        if entry is not None:
            return entry
        logger.info("loading model %s", key)
        value, provenance = loader()
        entry = CachedModel(key=key, value=value, provenance=dict(provenance))
        with _GUARD:
            _ENTRIES[key] = entry
        return entry


def cached_keys() -> list[str]:
    """Keys currently loaded (for diagnostics and tests)."""
    with _GUARD:
        return sorted(_ENTRIES)


def clear_cache() -> None:
    """Drop every entry (tests; or to free memory between batches)."""
    with _GUARD:
        _ENTRIES.clear()
        _LOAD_LOCKS.clear()
