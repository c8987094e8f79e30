"""Plan a batch: hash every listed key (and its sidecar), group keys whose result is the same.

A group is processed by one worker, first key first, so the copies under other names reuse the
computed result (:class:`~pipeline.batch.BatchRunner` keeps it) instead of computing it again.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pipeline.io.storage import Bucket, safe_key
from pipeline.ledger.identities import hash_object, result_identity, sidecar_hash
from pipeline.io.transient import is_transient_error

log = logging.getLogger(__name__)

HASH_THREADS = 8


@dataclass(frozen=True)
class Planned:
    """One listed key; hashes are None when the key could not be hashed here (the item then
    reports why: unsafe key, unreadable file, symlink out of the source)."""

    key: str
    content_hash: str | None = None
    sidecar: str | None = None

    @property
    def identity(self) -> str | None:
        return None if self.content_hash is None else result_identity(self.content_hash, self.sidecar)


def _hash(source: Bucket, key: str) -> Planned:
    try:
        safe = safe_key(key)
        return Planned(key, hash_object(source, safe), sidecar_hash(source, safe))
    except Exception as exc:  # noqa: BLE001 - reported by the item itself when it is processed
        if is_transient_error(exc):
            log.debug("could not hash %s now: %s", key, exc)
        return Planned(key)


def plan_groups(source: Bucket, keys: list[str]) -> list[list[Planned]]:
    """Keys grouped by result identity (bytes + sidecar), groups in the order of their first key."""
    with ThreadPoolExecutor(max_workers=min(HASH_THREADS, max(1, len(keys)))) as pool:
        planned = list(pool.map(lambda k: _hash(source, k), keys))
    groups: dict[str, list[Planned]] = {}
    for i, item in enumerate(planned):
        groups.setdefault(item.identity or f"unhashed-{i}", []).append(item)
    return list(groups.values())
