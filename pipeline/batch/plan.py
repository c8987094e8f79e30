"""Plan a batch: one listing rule for the CLI and the flow, and the ledger's fingerprint index.

The listing (:meth:`~pipeline.io.storage.Bucket.list_entries`, one call) sorts every key under
the prefix into exactly one of:

- an **item**: it gets a row in the batch report (a photo, but also ``.jfif``, a name without
  extension or with a trailing space, a text file: the decoder reads the bytes and says what
  they are);
- a **sidecar**: ``<stem>.json`` beside an item (part of that item, see
  :func:`~pipeline.ledger.identities.sidecar_key`);
- **ignored**, with the rule that ignored it (:data:`RULES`): keys in folders whose name starts
  with ``_`` or ``.`` (``_ledger``, ``_ground_truth``, ``.git``; one entry per folder), hidden
  files, ``.json`` files that are nobody's sidecar, links to folders.

Items the ledger already has done with this config are skipped without being read: the key's
listing fingerprint (size + ETag on S3, size + mtime + ctime on disk, plus its sidecar's) maps to
the item identity it had (``_ledger/index``), and that identity's done record exists.

Entries that must not be read (FIFOs, sockets, devices, broken links, a folder where the sidecar
should be) are items with a ``problem``: their row says why, nothing is opened.

Groups: keys that may hold the same bytes (equal ETag, or equal size and then equal hash) go to
one worker, first key first, so the copies reuse the computed result instead of computing again.
Keys with a size of their own are never read here.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pipeline.errors import UnsafeKeyError
from pipeline.io.storage import Bucket, file_kind, hidden_folder, safe_key
from pipeline.io.transient import is_transient_error
from pipeline.ledger import Ledger
from pipeline.ledger.identities import (
    fingerprint,
    hash_object,
    item_name,
    key_identity,
    result_identity,
    sidecar_hash,
    sidecar_key,
)

log = logging.getLogger(__name__)

HASH_THREADS = 8
SIDECAR_SUFFIX = ".json"
RULES = {
    "hidden_folder": "in a folder whose name starts with _ or . (pipeline data, version control)",
    "hidden_file": "hidden file (its name starts with .)",
    "lone_json": "a .json file with no photo of the same name beside it (sidecars describe a photo)",
    "folder_link": "a symbolic link to a folder (folders are not followed through links)",
}


@dataclass(frozen=True)
class Planned:
    """One key that gets a row.

    fp: listing fingerprint of the key and its sidecar (None when the listing gives none: the
    key is then always read). size: bytes, from the listing. sidecar: whether the listing showed
    a sidecar (None: unknown, look). problem: why the key will not be read (not a regular file,
    a broken link, a folder where its sidecar should be); its row says so. etag: the listing's
    ETag (S3: the bytes' MD5), used to group copies without reading them.
    """

    key: str
    fp: str | None = None
    size: int | None = None
    sidecar: bool | None = None
    problem: str | None = None
    etag: str | None = None


@dataclass(frozen=True)
class Ignored:
    """A key (or a folder of keys, ending in ``/``) that gets no row, and the rule that says why."""

    key: str
    rule: str
    count: int = 1

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "rule": RULES[self.rule], "files": self.count}


@dataclass(frozen=True)
class Plan:
    """todo: keys to process, in listing order. done: keys the ledger has done with this config
    (skipped unread). ignored: what gets no row and why. listed: todo + done."""

    todo: tuple[Planned, ...]
    done: tuple[str, ...] = ()
    ignored: tuple[Ignored, ...] = ()

    @property
    def listed(self) -> int:
        return len(self.todo) + len(self.done)


@dataclass(frozen=True)
class Listing:
    """The listing sorted by the rule: items with their fingerprints, and what is ignored."""

    items: tuple[Planned, ...]
    ignored: tuple[Ignored, ...]


def _local_target(source: Bucket, key: str, info: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """For a local entry: (info of what it is or points to, problem). A symbolic link is judged
    by its target (a broken link or a loop is a problem, its fingerprint the link's own)."""
    if info.get("type") == "file" and not info.get("islink"):
        return info, None
    path = source.path(key)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return info, "broken symbolic link: the file it points to does not exist"
    except OSError as exc:
        return info, f"symbolic link that cannot be followed ({exc.strerror or exc})"
    target = {**info, "type": "file", "size": st.st_size, "mtime": st.st_mtime, "created": st.st_ctime,
              "mode": st.st_mode}
    kind = file_kind(st.st_mode)
    if kind == "regular file":
        return target, None
    if kind == "folder":
        return None, None
    return target, f"not a regular file but a {kind}; it was not opened"


def list_source(source: Bucket, prefix: str = "") -> Listing:
    """One listing of ``source/prefix``, sorted by the rule in the module docstring."""
    entries = source.list_entries(prefix, withdirs=source.is_local)
    folders = {k for k, info in entries.items() if info.get("type") == "directory"}
    ignored: dict[str, Ignored] = {}
    candidates: list[tuple[str, dict[str, Any]]] = []
    jsons: dict[str, dict[str, Any]] = {}
    for key, info in entries.items():
        if key in folders:
            continue
        hidden = hidden_folder(key)
        if hidden is not None:
            seen = ignored.get(hidden)
            ignored[hidden] = Ignored(hidden, "hidden_folder", 1 + (seen.count if seen else 0))
        elif posixpath.basename(key).startswith("."):
            ignored[key] = Ignored(key, "hidden_file")
        elif key.lower().endswith(SIDECAR_SUFFIX):
            jsons[key] = info
        else:
            candidates.append((key, info))
    items, used = [], set()
    for key, info in candidates:
        problem = None
        if source.is_local:
            target, problem = _local_target(source, key, info)
            if target is None:
                ignored[key] = Ignored(key, "folder_link")
                continue
            info = target
        elif info.get("type") not in (None, "file"):
            problem = f"not a regular file but a {info.get('type')}; it was not opened"
        skey = sidecar_key(key)
        fp = fingerprint(info)
        has_sidecar: bool = False
        if skey != key and skey in jsons:
            used.add(skey)
            has_sidecar = True
            fp = f"{fp}+{fingerprint(jsons[skey])}" if fp else None  # a new sidecar makes a new item
        elif skey != key and skey in folders:
            problem = problem or f"sidecar {skey} is a folder, not a file"
            fp = f"{fp}+folder" if fp else None
        items.append(Planned(key, fp, info.get("size"), has_sidecar, problem, info.get("ETag") or info.get("etag")))
    for key in jsons.keys() - used:
        ignored[key] = Ignored(key, "lone_json")
    return Listing(tuple(items), tuple(sorted(ignored.values(), key=lambda i: i.key)))


def plan_batch(source: Bucket, prefix: str = "", *, ledger: Ledger | None, config_hash: str,
               max_items: int | None = None) -> Plan:
    """List the source and drop the items ``ledger`` has done with ``config_hash`` (by listing
    fingerprint, nothing read). Without a ledger everything is to do. ``max_items`` caps todo."""
    listing = list_source(source, prefix)
    if ledger is None:
        todo = listing.items
        return Plan(todo[:max_items] if max_items is not None else todo, (), listing.ignored)
    done_names = ledger.done_names()
    index = ledger.fingerprint_map() if done_names else {}
    todo, done = [], []
    for planned in listing.items:
        if _is_done(ledger, source, planned, config_hash, done_names, index):
            done.append(planned.key)
        else:
            todo.append(planned)
    if max_items is not None:
        todo = todo[:max_items]
    return Plan(tuple(todo), tuple(done), listing.ignored)


def _is_done(ledger: Ledger, source: Bucket, planned: Planned, config_hash: str, done_names: set[str],
             index: dict[str, str]) -> bool:
    if not done_names:
        return False
    try:
        safe_key(planned.key)
    except UnsafeKeyError:  # recorded once under the key itself
        return item_name(key_identity(source.url, planned.key, planned.fp), config_hash) in done_names
    if planned.fp is None:
        return False
    identity = index.get(ledger.index_id(source.url, planned.key, planned.fp))
    return identity is not None and item_name(identity, config_hash) in done_names


def group_todo(source: Bucket, todo: tuple[Planned, ...] | list[Planned]) -> list[list[Planned]]:
    """Keys that may share a result in one group, first key first; groups in listing order.

    Equal ETags (S3: the bytes' MD5) group without a read; keys of equal size are hashed to tell
    copies apart; every other key is a group of its own and is not read here.
    """
    by_size: dict[int, list[int]] = defaultdict(list)
    for i, planned in enumerate(todo):
        if planned.problem is None and not planned.etag and planned.size is not None:
            by_size[planned.size].append(i)
    to_hash = [i for members in by_size.values() if len(members) > 1 for i in members]
    hashed = dict(zip(to_hash, _hash_all(source, [todo[i] for i in to_hash]))) if to_hash else {}
    groups: dict[str, list[Planned]] = {}
    for i, planned in enumerate(todo):
        if planned.etag and planned.problem is None:
            tag = f"etag:{planned.etag}"
        else:
            tag = hashed.get(i) or f"alone:{i}"
        groups.setdefault(tag, []).append(planned)
    return list(groups.values())


def _hash_all(source: Bucket, planned: list[Planned]) -> list[str | None]:
    """Result identities (photo + sidecar hash) of ``planned``; None where a key cannot be read now
    (its item reports why)."""
    def one(p: Planned) -> str | None:
        try:
            safe = safe_key(p.key)
            return result_identity(hash_object(source, safe), sidecar_hash(source, safe) if p.sidecar else None)
        except Exception as exc:  # noqa: BLE001 - the item itself reports why when it is processed
            if is_transient_error(exc):
                log.debug("could not hash %s now: %s", p.key, exc)
            return None

    with ThreadPoolExecutor(max_workers=min(HASH_THREADS, len(planned))) as pool:
        return list(pool.map(one, planned))
