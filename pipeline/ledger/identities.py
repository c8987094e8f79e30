"""Item identities: content hashes, ledger names, listing fingerprints."""

from __future__ import annotations

import hashlib
from typing import Any

from pipeline.io.storage import Bucket

HASH_CHUNK = 1 << 20


def content_hash_of(data: bytes) -> str:
    """sha256 hex of the bytes (the same hash :class:`~pipeline.batch.BatchRunner` records)."""
    return hashlib.sha256(data).hexdigest()


def hash_object(bucket: Bucket, key: str) -> str:
    """sha256 hex of an object, streamed (no size limit, constant memory)."""
    digest = hashlib.sha256()
    with bucket.fs.open(bucket.path(key), "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def item_name(content_hash: str, config_hash: str) -> str:
    return f"{content_hash}-{config_hash}"


def rejected_name(source_url: str, key: str, config_hash: str) -> str:
    """Ledger name for a key that was rejected before reading (unsafe key)."""
    h = hashlib.sha256(f"{source_url}\0{key}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"key-{h}-{config_hash}"


def fingerprint(info: dict[str, Any]) -> str | None:
    """A cheap change detector from a listing entry: size + ETag (S3) or mtime (files)."""
    size = info.get("size")
    tag = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")
    if size is None or tag is None:
        return None
    return f"{size}:{tag}"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]

