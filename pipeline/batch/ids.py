"""Names in a batch: batch ids, one item folder per source key, per-item seeds."""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import secrets
import zlib


def new_batch_id() -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sortable by time, unique across machines."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{secrets.token_hex(3)}"


def item_id_for_key(key: str) -> str:
    """A folder name for a source key, one per key: a readable stem (path separators become
    ``__``, odd characters ``_``, at most 80 characters) plus 8 hex of the key's sha256, so
    ``shoes/red.png`` and ``shoes__red.png`` never share a folder."""
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", key.replace("/", "__")).lstrip(".")[:80] or "item"
    return f"{readable}-{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def item_seed(base_seed: int, item_id: str) -> int:
    """Per-item seed: stable across runs and machines, different between items."""
    return (base_seed * 1_000_003 + zlib.crc32(item_id.encode())) % (2**31 - 1)


BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""A batch id is one folder name: letters, digits, ``.``, ``_``, ``-``, at most 100, starting with a
letter or digit (``_ledger``, ``_manifests`` and dot-folders are the store's own; ``..`` climbs out)."""


def check_batch_id(batch_id: str) -> str:
    """``batch_id`` when it is a safe, unreserved folder name; ``ValueError`` saying why otherwise."""
    if not BATCH_ID.match(batch_id):
        raise ValueError(f"batch id {batch_id!r} must be one folder name of letters, digits, '.', '_' and '-' "
                         "(at most 100), starting with a letter or digit (names starting with '_' or '.' are "
                         "reserved for DEST/_ledger and the like)")
    return batch_id
