"""Moving a processed (or rejected) input out of the watched prefix."""

from __future__ import annotations

import os
import posixpath
import uuid

from pipeline.io.storage import Bucket, safe_key
from pipeline.redact import redact


def move_input(source: Bucket, key: str, *, from_prefix: str, to_prefix: str,
               reason: str | None = None) -> str:
    """Move ``key`` from under ``from_prefix`` to ``to_prefix`` (keeping its relative path);
    with ``reason``, also write ``<new key>.error.txt``. Returns the new key. Never overwrites."""
    key = safe_key(key)
    rel = key[len(from_prefix):].lstrip("/") if from_prefix and key.startswith(from_prefix) else key
    target = safe_key(f"{to_prefix.rstrip('/')}/{rel}")
    if source.exists(target):
        stem, dot, ext = target.rpartition(".")
        suffix = uuid.uuid4().hex[:8]
        target = f"{stem}.{suffix}.{ext}" if dot else f"{target}.{suffix}"
    if source.is_local:
        os.makedirs(posixpath.dirname(source.path(target)), exist_ok=True)
    source.move(key, target)
    if reason:
        source.write_text(f"{target}.error.txt", redact(reason) + "\n")
    return target
