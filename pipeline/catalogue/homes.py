"""Homes: where versions come from, read into catalogue records. A home is a batch folder
``DEST/<batch_id>`` (written by ``product-scene run`` or the flow) or ``DEST/_fixes`` (versions
made by reviewers' fixes, :mod:`pipeline.catalogue.fixes`).

Everything the catalogue knows can be read back from the homes, which is how a lost or damaged
catalogue is rebuilt (:meth:`pipeline.catalogue.store.Catalogue.rebuild`):

- versions: ``report.json`` (one version per item) and each item's ``meta.json`` (its ``sku``,
  the sha256 of each composite; a composite is hashed when an older meta.json lacks it);
- decisions: ``<home>/_decisions/<item_id>/<time>-<id>.json``, one immutable file per decision
  (created once, never rewritten), and the legacy ``decisions.json`` read as it is (every entry
  and its history become decisions with ``how: "migrated"``);
- what is live: ``<home>/published.json`` ({"targets": {target: {item_id: row}}}), updated by
  ``publish`` with compare-and-swap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import stat
from dataclasses import dataclass, field
from typing import Any

from pipeline.catalogue.model import DecisionError, new_decision
from pipeline.catalogue.products import product_id, sidecar_sku
from pipeline.errors import ImageDecodeError, UnsafeKeyError
from pipeline.io.conditional_store import ConditionalStore
from pipeline.io.storage import Bucket, safe_key
from pipeline.io.transient import is_transient_error
from pipeline.ledger.records import DECISIONS_DIR
from pipeline.ledger.records import DECISIONS_FILE as LEGACY_DECISIONS_FILE

log = logging.getLogger(__name__)

FIXES_HOME = "_fixes"
JOURNAL_DIR = DECISIONS_DIR  # the ledger's done records point there
PUBLISHED_FILE = "published.json"
REPORT_FILE = "report.json"
FIX_RECORD = "version.json"
MAX_REPORT_BYTES = 256 << 20  # a 10,000-item report.json is about 20 MB
MAX_META_BYTES = 16 << 20
MAX_SMALL_JSON_BYTES = 1 << 20  # one journal entry, one fix record
MAX_COMPOSITE_BYTES = 512 << 20
READ_CHUNK = 500  # keys fetched together from an object store (s3fs fetches them concurrently)


@dataclass
class HomeRecords:
    """What one home holds, as catalogue records."""

    home: str
    info: dict[str, Any]  # {"kind", "created_at", "gate", "config_hash", "items", "stamp"}
    versions: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)  # (pid, sku, version)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    live: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (pid, target, row)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_home_name(name: str) -> bool:
    """A batch folder name (no ``_`` / ``.`` start: ``_ledger``, ``_catalogue`` are not) or ``_fixes``."""
    return name == FIXES_HOME or (bool(name) and not name.startswith(("_", ".")))


def list_homes(dest: Bucket) -> list[str]:
    """Folder names directly under DEST that may be homes (one listing; sorted)."""
    root = dest.root or ""
    if hasattr(dest.fs, "invalidate_cache"):
        dest.fs.invalidate_cache(root)
    try:
        entries = dest.fs.ls(root, detail=True)
    except FileNotFoundError:
        return []
    names = []
    for entry in entries:
        if entry.get("type") != "directory":
            continue
        name = posixpath.basename(str(entry["name"]).rstrip("/"))
        if is_home_name(name):
            names.append(name)
    return sorted(set(names))


def home_stamp(dest: Bucket, home: str) -> str | None:
    """What changes when a home is rewritten: report.json's size and ETag or mtime (a batch), the
    list of fix records (``_fixes``); None when the home is not (yet) one (no report.json)."""
    if home == FIXES_HOME:
        keys = _list(dest, FIXES_HOME)
        records = [k for k in keys if k.endswith("/" + FIX_RECORD)]
        return "fixes:" + sha256_hex("\n".join(records).encode())[:16] if records else None
    try:
        info = dest.fs.info(dest.path(f"{safe_key(home)}/{REPORT_FILE}"))
    except FileNotFoundError:
        return None
    return f"{info.get('size')}:{info.get('ETag') or info.get('mtime') or info.get('LastModified')}"


def read_home(dest: Bucket, store: ConditionalStore, home: str) -> HomeRecords | None:
    """Every record in ``home``; None when it is not a home. Transient storage errors propagate
    (a half-read home is never ingested)."""
    stamp = home_stamp(dest, home)
    if stamp is None:
        return None
    if home == FIXES_HOME:
        records = _read_fixes(dest, stamp)
    else:
        records = _read_batch(dest, home, stamp)
        if records is None:
            return None
    pids = {version["item"]: pid for pid, _, version in records.versions}
    records.decisions += legacy_decisions(dest, home, pids) + journal_decisions(store, home)
    records.live += published_rows(dest, home, pids)
    return records


# ---------------------------------------------------------------------------- batches
def _read_batch(dest: Bucket, home: str, stamp: str) -> HomeRecords | None:
    try:
        report = json.loads(dest.read_bytes(f"{home}/{REPORT_FILE}", max_bytes=MAX_REPORT_BYTES))
    except FileNotFoundError:
        return None
    except (ValueError, UnsafeKeyError) as exc:
        log.warning("%s/%s cannot be read (%s): its items are not in the catalogue", home, REPORT_FILE, exc)
        return None
    if not isinstance(report, dict) or not isinstance(report.get("items"), list):
        log.warning("%s/%s has no items list: not a batch report", home, REPORT_FILE)
        return None
    items = [i for i in report["items"] if isinstance(i, dict) and _item_ok(i)]
    created_at = str(report.get("created_at") or "")
    info = {"kind": "batch", "created_at": created_at, "gate": (report.get("extra") or {}).get("gate") or {},
            "config_hash": report.get("config_hash"), "items": len(items), "stamp": stamp}
    metas = read_many(dest, [f"{home}/{i['id']}/meta.json" for i in items if i.get("status") == "ok"], MAX_META_BYTES)
    out = HomeRecords(home, info)
    for item in items:
        meta = _json_or_empty(metas.get(f"{home}/{item['id']}/meta.json"))
        out.versions.append(_batch_version(dest, home, item, meta, created_at))
    return out


def _item_ok(item: dict[str, Any]) -> bool:
    try:
        item_id = str(item.get("id"))
        return item_id == safe_key(item_id) and "/" not in item_id and not item_id.startswith(".") \
            and isinstance(item.get("source"), str) and bool(item["source"])
    except UnsafeKeyError:
        return False


def _batch_version(dest: Bucket, home: str, item: dict[str, Any], meta: dict[str, Any],
                   created_at: str) -> tuple[str, str | None, dict[str, Any]]:
    item_id, source = item["id"], item["source"]
    try:
        sku = sidecar_sku({"sku": meta.get("sku")})
    except ValueError as exc:
        log.warning("%s/%s: %s; the product is its source key", home, item_id, exc)
        sku = None
    ok = item.get("status") == "ok"
    outcome = "error" if not ok else ("pass" if item.get("verdict") == "pass" else "fail")
    version: dict[str, Any] = {
        "id": f"{home}/{item_id}", "home": home, "item": item_id, "origin": "batch", "source": source,
        "created_at": created_at, "status": "ok" if ok else "error", "outcome": outcome,
        "verdict": item.get("verdict"), "reasons": [str(r) for r in item.get("reasons") or []],
        "error": item.get("error"), "file": None, "sha256": None, "variants": [],
        "default_variant": meta.get("variant") if isinstance(meta.get("variant"), int) else None,
    }
    if ok:
        shas = meta.get("composite_sha256") if isinstance(meta.get("composite_sha256"), dict) else {}
        name = posixpath.basename(str((item.get("outputs") or {}).get("composite") or "composite.png"))
        version["file"], version["sha256"] = _composite(dest, home, item_id, name, shas)
        variants = meta.get("variants") if isinstance(meta.get("variants"), list) else []
        for k, variant in enumerate(variants):
            vname = str(variant.get("composite") or "") if isinstance(variant, dict) else ""
            if not vname:
                vname = posixpath.basename(str((item.get("outputs") or {}).get(f"composite_v{k}") or ""))
            file, sha = _composite(dest, home, item_id, vname, shas) if vname else (None, None)
            version["variants"].append({"file": file, "sha256": sha,
                                        "verdict": variant.get("verdict") if isinstance(variant, dict) else None})
    return product_id(source, sku), sku, version


def _composite(dest: Bucket, home: str, item_id: str, name: str, shas: dict[str, Any]) -> tuple[str | None, str | None]:
    """(home-relative file, sha256): the sha from meta.json, else the file's own bytes hashed."""
    if not name or "/" in name or name.startswith("."):
        return None, None
    rel = f"{item_id}/{name}"
    sha = shas.get(name)
    if isinstance(sha, str) and len(sha) == 64:
        return rel, sha
    try:
        return rel, sha256_hex(dest.read_bytes(f"{home}/{rel}", max_bytes=MAX_COMPOSITE_BYTES))
    except (FileNotFoundError, UnsafeKeyError, ImageDecodeError) as exc:
        log.warning("%s/%s cannot be read (%s): this version has no composite", home, rel, exc)
        return None, None


# ---------------------------------------------------------------------------- fixes
def _read_fixes(dest: Bucket, stamp: str) -> HomeRecords:
    out = HomeRecords(FIXES_HOME, {"kind": "fixes", "created_at": "", "gate": {}, "config_hash": None,
                                   "items": 0, "stamp": stamp})
    keys = [k for k in _list(dest, FIXES_HOME) if k.endswith("/" + FIX_RECORD)]
    for key, data in read_many(dest, keys, MAX_SMALL_JSON_BYTES).items():
        record = _json_or_empty(data)
        version = record.get("version")
        pid = record.get("product")
        if not isinstance(version, dict) or not isinstance(pid, str) or version.get("home") != FIXES_HOME:
            log.warning("%s is not a fix record; skipped", key)
            continue
        out.versions.append((pid, record.get("sku"), version))
    out.info["items"] = len(out.versions)
    return out


# ---------------------------------------------------------------------------- decisions
def journal_key(home: str, item_id: str, decision: dict[str, Any]) -> str:
    """``<home>/_decisions/<item_id>/<decided_at, digits only>-<decision id>.json``."""
    stamp = "".join(ch for ch in str(decision["decided_at"]) if ch.isdigit())
    return f"{safe_key(home)}/{JOURNAL_DIR}/{safe_key(item_id)}/{stamp}-{safe_key(decision['id'])}.json"


def write_journal(store: ConditionalStore, home: str, item_id: str, decision: dict[str, Any]) -> str:
    """Create the decision's journal file (create-only: an existing one is never overwritten)."""
    key = journal_key(home, item_id, decision)
    data = json.dumps(decision, ensure_ascii=False, sort_keys=True).encode("utf-8")
    if store.create(key, data) is None:
        found = store.get(key)
        if found is None or found[0] != data:
            raise RuntimeError(f"{key} already exists with other content; decision ids must be unique")
    return key


def journal_decisions(store: ConditionalStore, home: str) -> list[dict[str, Any]]:
    """Every decision in ``<home>/_decisions/`` (bad files skipped with a warning)."""
    out = []
    keys = [k for k in store.list(f"{safe_key(home)}/{JOURNAL_DIR}") if k.endswith(".json")]
    for key in keys:
        found = store.get(key)
        if found is None:
            continue
        d = _json_or_empty(found[0] if len(found[0]) <= MAX_SMALL_JSON_BYTES else b"")
        try:
            out.append(new_decision(product=d.get("product"), version=d.get("version"), decision=d.get("decision"),
                                    reviewer=d.get("reviewer"), note=d.get("note", ""), variant=d.get("variant"),
                                    sha256=d.get("sha256"), how=d.get("how", "review"),
                                    decided_at=str(d.get("decided_at") or ""), decision_id=d.get("id") or ""))
        except DecisionError as exc:
            log.warning("%s is not a valid decision (%s); skipped", key, exc)
    return out


def legacy_decisions(dest: Bucket, home: str, pids: dict[str, str]) -> list[dict[str, Any]]:
    """``<home>/decisions.json`` (written before the catalogue) as decisions: each item's entry and
    its history, ``how: "migrated"``. The file is read as it is, never rewritten."""
    try:
        doc = json.loads(dest.read_bytes(f"{home}/{LEGACY_DECISIONS_FILE}", max_bytes=MAX_REPORT_BYTES))
    except FileNotFoundError:
        return []
    except (ValueError, UnsafeKeyError) as exc:
        log.warning("%s/%s cannot be read (%s): its decisions are not in the catalogue; fix or move it",
                    home, LEGACY_DECISIONS_FILE, exc)
        return []
    items = doc.get("items") if isinstance(doc, dict) else None
    out = []
    for item_id, entry in (items or {}).items():
        if not isinstance(entry, dict) or item_id not in pids:
            if isinstance(entry, dict):
                log.warning("%s/%s: item %s is not in the report; its decision is kept in the file only",
                            home, LEGACY_DECISIONS_FILE, item_id)
            continue
        history = [h for h in entry.get("history") or [] if isinstance(h, dict)]
        for old in [*history, entry]:
            when = str(old.get("decided_at") or "")
            try:
                out.append(new_decision(
                    product=pids[item_id], version=f"{home}/{item_id}", decision=old.get("decision"),
                    reviewer=str(old.get("reviewer") or "unknown"), note=old.get("note") or "",
                    variant=old.get("variant"), sha256=old.get("composite_sha256"), how="migrated",
                    decided_at=when, decision_id=f"legacy:{home}/{item_id}:{when}:{old.get('decision')}"))
            except DecisionError as exc:
                log.warning("%s/%s: a decision on %s is not valid (%s); skipped", home, LEGACY_DECISIONS_FILE,
                            item_id, exc)
    return out


# ---------------------------------------------------------------------------- published
def published_rows(dest: Bucket, home: str, pids: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(product, target, live row) for every row of ``<home>/published.json``."""
    try:
        doc = json.loads(dest.read_bytes(f"{home}/{PUBLISHED_FILE}", max_bytes=MAX_REPORT_BYTES))
    except FileNotFoundError:
        return []
    except (ValueError, UnsafeKeyError) as exc:
        log.warning("%s/%s cannot be read (%s)", home, PUBLISHED_FILE, exc)
        return []
    out = []
    targets = doc.get("targets") if isinstance(doc, dict) else None
    for target, rows in (targets or {}).items():
        for item_id, row in (rows or {}).items():
            if not isinstance(row, dict) or not row.get("key") or not row.get("sha256"):
                continue
            pid = row.get("product") or pids.get(item_id)
            if not isinstance(pid, str):
                continue
            out.append((pid, str(target), live_row(row, f"{home}/{item_id}")))
    return out


def live_row(row: dict[str, Any], version: str) -> dict[str, Any]:
    """The live record kept per product and target."""
    return {"key": row.get("key"), "sha256": row.get("sha256"), "version": row.get("version") or version,
            "variant": row.get("variant"), "published_at": row.get("published_at")}


# ---------------------------------------------------------------------------- reading
def read_many(dest: Bucket, keys: list[str], max_bytes: int) -> dict[str, bytes | None]:
    """key -> bytes (None: missing, unsafe or larger than ``max_bytes``). Object stores fetch
    ``READ_CHUNK`` keys at a time concurrently; transient errors propagate."""
    out: dict[str, bytes | None] = {}
    if dest.is_local:
        for key in keys:
            try:
                out[key] = _read_local(dest.checked_path(key), max_bytes)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, UnsafeKeyError):
                out[key] = None
        return out
    for start in range(0, len(keys), READ_CHUNK):
        chunk = keys[start:start + READ_CHUNK]
        paths = {dest.path(k): k for k in chunk}
        found = dest.fs.cat(list(paths), on_error="return")
        if not isinstance(found, dict):  # one path: fsspec returns the bytes
            found = {next(iter(paths)): found}
        for path, key in paths.items():
            value = found.get(path)
            if isinstance(value, BaseException):
                if is_transient_error(value):
                    raise value
                value = None
            out[key] = value if isinstance(value, bytes) and len(value) <= max_bytes else None
    return out


def _read_local(path: str, max_bytes: int) -> bytes | None:
    """A regular file's bytes (None when it is not one, or larger than ``max_bytes``): opened
    without blocking, so a FIFO in its place is never waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                return None
        return b"".join(chunks)
    finally:
        os.close(fd)


def _list(dest: Bucket, prefix: str) -> list[str]:
    base = dest.path(prefix)
    if hasattr(dest.fs, "invalidate_cache"):
        dest.fs.invalidate_cache(base)
    try:
        found = dest.fs.find(base)
    except FileNotFoundError:
        return []
    root = (dest.root or "").rstrip("/")
    return sorted(f[len(root):].lstrip("/") if root and f.startswith(root) else f for f in found)


def _json_or_empty(data: bytes | None) -> dict[str, Any]:
    if not data:
        return {}
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
