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
    with bucket.fs.open(bucket.checked_path(key), "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def item_name(identity: str, config_hash: str) -> str:
    """Ledger name of an item: its :func:`item_identity` (or a content hash) and the config hash."""
    return f"{identity}-{config_hash}"


def sidecar_key(key: str) -> str:
    """``shoes/red.jpg`` -> ``shoes/red.json`` (the photo's optional metadata file)."""
    stem, dot, _ = key.rpartition(".")
    return f"{stem}.json" if dot else f"{key}.json"


def sidecar_hash(bucket: Bucket, key: str) -> str | None:
    """sha256 hex of the photo's sidecar, None when it has none."""
    skey = sidecar_key(key)
    if skey == key or not bucket.exists(skey):
        return None
    return hash_object(bucket, skey)


def result_identity(content_hash: str, sidecar: str | None) -> str:
    """What decides the computed result besides the config: the photo's bytes and its sidecar.

    Two keys with equal result identities get the same result (computed once, written per key).
    """
    if sidecar is None:
        return content_hash
    return hashlib.sha256(f"{content_hash}\0{sidecar}".encode()).hexdigest()


def item_identity(content_hash: str, sidecar: str | None, key: str) -> str:
    """One ledger item per source key: the key, its bytes and its sidecar (sha256 hex).

    A copy of a photo under another name is another item (it gets its own output); a new
    sidecar makes the item new.
    """
    blob = f"{result_identity(content_hash, sidecar)}\0{key}"
    return hashlib.sha256(blob.encode("utf-8", "surrogateescape")).hexdigest()


def name_for_key(bucket: Bucket, key: str, config_hash: str) -> str:
    """The ledger name ``key`` has now: hashes its bytes and its sidecar (see :func:`item_identity`)."""
    return item_name(item_identity(hash_object(bucket, key), sidecar_hash(bucket, key), key), config_hash)


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

