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
    with bucket.open_read(key) as fh:
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


def key_identity(source_url: str, key: str, fp: str | None) -> str:
    """The identity of an item that failed before its bytes could be hashed (unsafe key, unreadable,
    not a regular file, too large, a sidecar that cannot be read): the key and its listing
    fingerprint, so the failure is recorded once and the key is tried again once it changes."""
    blob = f"unread\0{source_url}\0{key}\0{fp or ''}"
    return "k" + hashlib.sha256(blob.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(info: dict[str, Any]) -> str | None:
    """A cheap change detector from a listing entry: size + ETag (S3), or size + mtime + ctime
    (local files; ctime moves on ``chmod`` too, so a file made readable is tried again)."""
    size = info.get("size")
    etag = info.get("ETag") or info.get("etag")
    if size is None:
        return None
    if etag:
        return f"{size}:{etag}"
    mtime = info.get("mtime") or info.get("LastModified")
    if mtime is None:
        return None
    changed = info.get("created")
    return f"{size}:{mtime}" + (f":{changed}" if changed is not None else "")


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]

