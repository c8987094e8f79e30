"""Publish a reviewed batch: copy the approved composites to a target, with a manifest.

For every item whose decision is ``approved`` the composite the reviewer chose (``composite.<ext>``,
or ``composite_v<k>.<ext>`` for a chosen variant, in the batch's output format) is copied to
``TARGET/<source key>`` with the composite's extension (``shoes/red.jpg`` -> ``shoes/red.png``;
``--strip-prefix incoming/`` drops a leading folder). Rejected and undecided items are never copied. Bytes are copied only when their
sha256 is the one the reviewer saw (``composite_sha256`` in decisions.json): a composite that
changed after its approval (a ``--reprocess`` run) is refused until it is reviewed again.

Idempotent: a target file that already holds the same bytes is left alone, so a second run copies
nothing. Decisions made after a publish are reported, never ignored:

- ``updated``: approved again with another variant (or a new composite): the file is replaced,
  only if it is still the file this batch published there;
- ``stale``: published earlier, now rejected or undecided: reported (exit code 3 in the CLI) and
  left in place unless ``withdraw=True``, which deletes it (only if it is still our file).

Records: ``TARGET/_manifests/<batch_id>.json`` lists what this batch has in TARGET, and
``DEST/<batch_id>/published.json`` (compare-and-swap, like decisions.json) remembers per target
what was published, so later runs and the review page know.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import UnsafeKeyError
from pipeline.redact import redact
from pipeline.review.casfile import CasJsonFile
from pipeline.review.decisions import DecisionStore
from pipeline.review.folder import BatchFolder, item_file
from pipeline.io.storage import Bucket, safe_key

log = logging.getLogger(__name__)

PUBLISHED_FILE = "published.json"
MANIFEST_PREFIX = "_manifests"
MAX_COMPOSITE_BYTES = 512 << 20


@dataclass
class PublishResult:
    """What one publish run did; each list holds ``{"item_id", "key", ...}`` dicts."""

    target: str
    manifest: str | None = None
    copied: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    withdrawn: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        """True when something approved could not be published or a published item is no longer approved."""
        return bool(self.stale or self.refused)


def composite_file(item: dict[str, Any], variant: int | None) -> str:
    """The batch-relative file of an item's chosen composite (``variant`` None: the one the report
    shows), named by the item's report outputs (``composite.png``, ``composite_v1.webp``, ...)."""
    name = "composite" if variant is None else f"composite_v{int(variant)}"
    uri = (item.get("outputs") or {}).get(name)
    return item_file(str(item["id"]), posixpath.basename(str(uri)) if uri else f"{name}.png")


def target_key(source: str, strip_prefix: str = "", suffix: str = ".png") -> str:
    """``shoes/red.jpg`` -> ``shoes/red.png`` (``suffix``: the composite's own extension), after
    dropping ``strip_prefix``; ``UnsafeKeyError`` if unsafe."""
    key = safe_key(source)
    prefix = strip_prefix.strip("/")
    if prefix and key.startswith(prefix + "/"):
        key = key[len(prefix) + 1:]
    stem, dot, ext = key.rpartition(".")
    if dot and "/" not in ext:
        key = stem
    return safe_key(key + suffix)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _target_sha(target: Bucket, key: str) -> str | None:
    if not target.exists(key):
        return None
    return sha256_hex(target.read_bytes(key))


def publish_batch(folder: BatchFolder, target: Bucket, *, strip_prefix: str = "",
                  withdraw: bool = False) -> PublishResult:
    """Copy the approved composites of ``folder`` to ``target`` (see the module docstring)."""
    report = folder.report()
    decisions = DecisionStore(folder).load().get("items", {})
    target_id = redact(target.url)
    result = PublishResult(target=target_id)
    records = PublishRecords(folder)
    previous = records.load().get("targets", {}).get(target_id, {})
    now = datetime.now(UTC).isoformat(timespec="seconds")
    published: dict[str, dict[str, Any]] = {}
    taken: dict[str, str] = {}
    for item in report["items"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        item_id = item["id"]
        entry = decisions.get(item_id) if isinstance(decisions.get(item_id), dict) else {}
        prev = previous.get(item_id)
        if entry.get("decision") == "approved":
            row = _publish_one(folder, target, item, entry, prev, strip_prefix, taken, result, now)
            if row is not None:
                published[item_id] = row
            elif prev is not None:
                published[item_id] = prev  # refused now, but what we published before is still there
        elif prev is not None:
            _not_approved_any_more(target, item_id, entry, prev, withdraw, result, published)
    if published != previous:
        records.set_target(target_id, published)
    result.manifest = _write_manifest(target, folder, published, report)
    for label in ("copied", "updated", "unchanged", "withdrawn"):
        log.info("%s: %d", label, len(getattr(result, label)))
    for row in result.stale:
        log.warning("%s was published to %s but is now %s: it is still there (publish --withdraw removes it)",
                    row["item_id"], row["key"], row["decision"])
    for row in result.refused:
        log.warning("%s not published: %s", row["item_id"], row["reason"])
    return result


def _publish_one(folder: BatchFolder, target: Bucket, item: dict[str, Any], entry: dict[str, Any],
                 prev: dict[str, Any] | None, strip_prefix: str, taken: dict[str, str],
                 result: PublishResult, now: str) -> dict[str, Any] | None:
    item_id = item["id"]
    try:
        rel = composite_file(item, entry.get("variant"))
        key = target_key(str(item.get("source", "")), strip_prefix, posixpath.splitext(rel)[1] or ".png")
    except (UnsafeKeyError, ValueError, TypeError) as exc:
        result.refused.append({"item_id": item_id, "key": None, "reason": f"unsafe name: {exc}"})
        return None
    if key in taken:
        result.refused.append({"item_id": item_id, "key": key, "reason": f"same target key as {taken[key]}"})
        return None
    taken[key] = item_id
    try:
        data = folder.read_bytes(rel, max_bytes=MAX_COMPOSITE_BYTES)
    except FileNotFoundError:
        result.refused.append({"item_id": item_id, "key": key, "reason": f"{rel} is missing from the batch"})
        return None
    sha = sha256_hex(data)
    if sha != entry.get("composite_sha256"):
        result.refused.append({"item_id": item_id, "key": key,
                               "reason": "the composite changed after it was approved; review it again"})
        return None
    row = {"key": key, "sha256": sha, "variant": entry.get("variant"), "reviewer": entry.get("reviewer"),
           "decided_at": entry.get("decided_at"), "source": item.get("source"), "published_at": now}
    existing = _target_sha(target, key)
    if existing == sha:
        kept = dict(prev) if prev and prev.get("sha256") == sha and prev.get("key") == key else row
        result.unchanged.append({"item_id": item_id, "key": key})
        return {**kept, "variant": row["variant"], "reviewer": row["reviewer"], "decided_at": row["decided_at"]}
    if existing is not None and not (prev and prev.get("key") == key and prev.get("sha256") == existing):
        result.refused.append({"item_id": item_id, "key": key,
                               "reason": "the target already holds a different file there that this batch did "
                                         "not publish; it was not overwritten"})
        return None
    target.write_bytes(key, data)
    (result.updated if existing is not None else result.copied).append({"item_id": item_id, "key": key})
    if prev and prev.get("key") != key:
        log.info("%s now publishes to %s (was %s)", item_id, key, prev.get("key"))
    return row


def _not_approved_any_more(target: Bucket, item_id: str, entry: dict[str, Any], prev: dict[str, Any],
                           withdraw: bool, result: PublishResult, published: dict[str, dict[str, Any]]) -> None:
    decision = entry.get("decision") or "undecided"
    key = str(prev.get("key"))
    row = {"item_id": item_id, "key": key, "decision": decision, "decided_at": entry.get("decided_at"),
           "published_at": prev.get("published_at")}
    existing = _target_sha(target, key)
    if existing is None:
        return  # someone removed it from the target already: nothing is published any more
    if existing != prev.get("sha256"):
        result.refused.append({"item_id": item_id, "key": key,
                               "reason": f"now {decision}, but the target file was replaced by someone else; left alone"})
        return
    if withdraw:
        target.delete(key)
        result.withdrawn.append(row)
        return
    result.stale.append(row)
    published[item_id] = prev


def _write_manifest(target: Bucket, folder: BatchFolder, published: dict[str, dict[str, Any]],
                    report: dict[str, Any]) -> str:
    """``TARGET/_manifests/<batch_id>.json``; rewritten only when what it lists changed."""
    key = posixpath.join(MANIFEST_PREFIX, f"{folder.batch_id}.json")
    items = [{"item_id": item_id, **row} for item_id, row in sorted(published.items())]
    body = {"batch_id": folder.batch_id, "batch": redact(folder.url), "config_hash": report.get("config_hash"),
            "items": items}
    if target.exists(key):
        try:
            if json.loads(target.read_bytes(key)) == body:
                return target.uri(key)
        except ValueError:
            pass
    return target.write_bytes(key, json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")


class PublishRecords:
    """``DEST/<batch_id>/published.json``: {"targets": {target url: {item_id: row}}} (CAS writes)."""

    def __init__(self, folder: BatchFolder):
        self.file = CasJsonFile(folder.store, folder.key(PUBLISHED_FILE), lambda: {"targets": {}}, _validate)

    def load(self) -> dict[str, Any]:
        return self.file.read()[0]

    def set_target(self, target_id: str, rows: dict[str, dict[str, Any]]) -> None:
        self.file.update(lambda doc: doc.setdefault("targets", {}).__setitem__(target_id, rows))


def _validate(doc: Any) -> None:
    if not isinstance(doc.get("targets"), dict):
        raise ValueError(f"{PUBLISHED_FILE} has no targets object; nothing was overwritten")
