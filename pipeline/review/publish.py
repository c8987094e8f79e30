"""Publish: each product's newest approved version into a target, by the catalogue's rules.

For every product (``publish DEST TARGET``), or every product with a version in one batch
(``publish DEST/<batch_id> TARGET``: the same rules, so an older batch can never remove or
overwrite what a newer approved version put live):

- its newest approved version's composite (the variant the reviewer chose) is copied to
  ``TARGET/<source key>`` with the composite's extension (``shoes/red.jpg`` -> ``shoes/red.png``;
  ``strip_prefix`` drops a leading folder), exactly the bytes approved (their sha256 is checked);
- a file this catalogue put there for the same product is replaced (a newer version, another
  variant); a file it did not put there is refused, naming what is there (size, time, and the
  catalogue's guess at its origin), unless ``replace_foreign``;
- a product with no approved version left that is live is reported as ``stale`` (exit 3 in the
  CLI), and removed only with ``withdraw`` (only if the file there is still ours);
- every failure is that product's ``refused`` or ``failed`` entry with its reason; the run goes
  on, the manifests are always written, and a rerun finishes the rest. A second run changes
  nothing (a target file that already holds the bytes is left alone; records are rewritten only
  when they change).

Records: the product's ``live`` entry in the catalogue, ``published.json`` in the home of the
version that is live (so a rebuild knows), and in TARGET ``_manifests/products.json`` (every live
product: product, version, batch, item, key, sha256) plus ``_manifests/<batch_id>.json`` per batch
with a live version (the same rows, that batch's).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.catalogue.casfile import CasJsonFile
from pipeline.catalogue.homes import PUBLISHED_FILE, live_row
from pipeline.catalogue.model import approved_version, composite_for, ordered_versions, set_live, summarize
from pipeline.catalogue.products import product_label
from pipeline.catalogue.store import Catalogue
from pipeline.errors import UnsafeKeyError
from pipeline.io.storage import Bucket, safe_key
from pipeline.redact import redact
from pipeline.review.folder import BatchFolder

log = logging.getLogger(__name__)

MANIFEST_PREFIX = "_manifests"
PRODUCTS_MANIFEST = f"{MANIFEST_PREFIX}/products.json"
MAX_COMPOSITE_BYTES = 512 << 20
MAX_MANIFEST_BYTES = 256 << 20


@dataclass
class PublishResult:
    """What one publish run did; each list holds ``{"product", "key", ...}`` dicts."""

    target: str
    manifest: str | None = None
    copied: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    withdrawn: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        """Something approved could not be published, or something live is no longer approved."""
        return bool(self.stale or self.refused or self.failed)


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


def target_names(target: Bucket) -> tuple[str, set[str]]:
    """(the id live records use for ``target``, other spellings of it seen in older records)."""
    if target.is_local:
        canonical = os.path.realpath(target.root or ".")
    else:
        canonical = redact(target.fs.unstrip_protocol(target.root))
    return canonical, {redact(target.url), redact(target.url.rstrip("/")), canonical}


class _Run:
    """One publish run: the catalogue state, what changes, the result."""

    def __init__(self, catalogue: Catalogue, target: Bucket, strip_prefix: str, withdraw: bool,
                 replace_foreign: bool):
        self.catalogue, self.target = catalogue, target
        self.strip_prefix, self.withdraw, self.replace_foreign = strip_prefix, withdraw, replace_foreign
        self.target_id, self.aliases = target_names(target)
        self.result = PublishResult(target=self.target_id)
        self.products = catalogue.load()
        self.now = datetime.now(UTC).isoformat(timespec="seconds")
        self.live_changes: dict[str, dict[str, Any] | None] = {}  # product -> new live row (None: nothing)
        self.taken = {row["key"]: pid for pid in self.products if (row := self.live(pid)) is not None}
        self._sha_index: dict[str, tuple[str, dict[str, Any]]] | None = None
        self._manifest_keys: dict[str, str] | None = None

    def live(self, pid: str) -> dict[str, Any] | None:
        if pid in self.live_changes:
            return self.live_changes[pid]
        return self.old_live(pid)

    def names_of_target(self, names: Any) -> list[str]:
        """The names among ``names`` that mean this target (older records spelt a folder as given
        on the command line: relative, with a trailing slash, ...)."""
        out = [n for n in names if n in self.aliases]
        if self.target.is_local:
            out += [n for n in names if n not in self.aliases and "://" not in n
                    and os.path.realpath(n) == self.target_id]
        return sorted(out, key=lambda n: n != self.target_id)

    def set_live(self, pid: str, row: dict[str, Any] | None) -> None:
        old = self.live(pid)
        if old is not None and self.taken.get(old["key"]) == pid:
            del self.taken[old["key"]]
        if row is not None:
            self.taken[row["key"]] = pid
        self.live_changes[pid] = row

    # ------------------------------------------------------------------ one product
    def product(self, pid: str) -> None:
        product = self.products[pid]
        live = self.live(pid)
        approved = approved_version(product)
        if approved is None:
            if live is not None:
                self.not_approved(pid, live)
            return
        version, decision = approved
        base = {"product": pid, "version": version["id"]}
        rel, sha = composite_for(version, decision.get("variant"))
        if rel is None or sha != decision.get("sha256"):
            self.refuse(base, None, "the approved composite is not part of this version any more; review it again")
            return
        try:
            key = target_key(str(version.get("source") or ""), self.strip_prefix, posixpath.splitext(rel)[1] or ".png")
        except (UnsafeKeyError, ValueError) as exc:
            self.refuse(base, None, f"its source name cannot be a target name: {exc}")
            return
        if self.taken.get(key, pid) != pid:
            self.refuse(base, key, f"{product_label(self.taken[key])} already publishes to this name")
            return
        try:
            data = BatchFolder(self.catalogue.dest, version["home"]).read_bytes(rel, max_bytes=MAX_COMPOSITE_BYTES)
        except UnsafeKeyError as exc:
            self.refuse(base, key, f"the composite {version['home']}/{rel} is not a file inside its batch folder "
                                   f"({exc})")
            return
        except FileNotFoundError:
            self.refuse(base, key, f"the composite {version['home']}/{rel} is missing")
            return
        if sha256_hex(data) != sha:
            self.refuse(base, key, "the composite changed after it was approved (the batch was rerun?); "
                                   "review it again")
            return
        row = {**live_row({"key": key, "sha256": sha, "variant": decision.get("variant"), "published_at": self.now},
                          version["id"]), "product": pid}
        existing = self.target_info(key)
        entry = {**base, "key": key, "batch": version["home"]}
        if existing is not None and existing["sha256"] == sha:
            self.result.unchanged.append(entry)
            if live is None or any(live.get(k) != row[k] for k in ("key", "sha256", "version", "variant")):
                self.record(pid, live, row)  # the bytes are there already: adopt them as this version's
            return
        ours = live is not None and live.get("key") == key and existing is not None and \
            live.get("sha256") == existing["sha256"]
        if existing is not None and not ours and not self.replace_foreign:
            self.refuse(base, key, self.describe_foreign(key, existing))
            return
        self.target.write_bytes(key, data)
        (self.result.updated if existing is not None else self.result.copied).append(entry)
        self.record(pid, live, row)

    def record(self, pid: str, live: dict[str, Any] | None, row: dict[str, Any]) -> None:
        """``row`` is live now; a file this product had live under another name is removed (if ours)."""
        if live is not None and live.get("key") != row["key"]:
            old = self.target_info(live["key"])
            if old is not None and old["sha256"] == live.get("sha256"):
                self.target.delete(live["key"])
                log.info("%s: now published as %s; removed %s", product_label(pid), row["key"], live["key"])
        self.set_live(pid, row)

    def not_approved(self, pid: str, live: dict[str, Any]) -> None:
        summary = summarize(self.products[pid]) or {}
        entry = {"product": pid, "version": live.get("version"), "key": live.get("key"),
                 "decision": summary.get("state", "undecided"), "published_at": live.get("published_at")}
        existing = self.target_info(live["key"])
        if existing is None:
            self.set_live(pid, None)  # removed from the target already: nothing is live any more
            return
        if existing["sha256"] != live.get("sha256"):
            self.refuse(entry, live["key"], "it has no approved version left, but the file there was replaced by "
                                            "someone else; left alone")
            return
        if self.withdraw:
            self.target.delete(live["key"])
            self.result.withdrawn.append(entry)
            self.set_live(pid, None)
            return
        self.result.stale.append(entry)

    def refuse(self, entry: dict[str, Any], key: str | None, reason: str) -> None:
        self.result.refused.append({**entry, "key": key, "reason": reason})

    # ------------------------------------------------------------------ the target
    def target_info(self, key: str) -> dict[str, Any] | None:
        """{"sha256", "size", "modified"} of the file at ``key`` in the target, None when absent."""
        try:
            info = self.target.fs.info(self.target.path(key))
        except FileNotFoundError:
            return None
        if info.get("type") == "directory":
            return {"sha256": "", "size": 0, "modified": None, "directory": True}
        data = self.target.read_bytes(key, max_bytes=MAX_COMPOSITE_BYTES)
        modified = info.get("mtime") or info.get("LastModified")
        if isinstance(modified, int | float):
            modified = datetime.fromtimestamp(modified, UTC).isoformat(timespec="seconds")
        return {"sha256": sha256_hex(data), "size": len(data), "modified": str(modified) if modified else None}

    def describe_foreign(self, key: str, existing: dict[str, Any]) -> str:
        if existing.get("directory"):
            return f"a folder named {key} is there; nothing was written"
        guess = "nothing in this catalogue made it (put there by hand or by another tool?)"
        found = self.sha_index().get(existing["sha256"])
        if found is not None:
            pid, version = found
            number = [v["id"] for v in ordered_versions(self.products[pid])].index(version["id"]) + 1
            guess = (f"it is version {number} of {product_label(pid)} (batch {version['home']}), put there by an "
                     "earlier publish that this catalogue has no record of, or copied by hand")
        elif (manifest := self.manifest_keys().get(key)) is not None:
            guess = f"the manifest {manifest} in the target lists it (another destination's publish?)"
        when = f", modified {existing['modified']}" if existing.get("modified") else ""
        return (f"the target already holds a file there that this catalogue did not put there ({existing['size']} "
                f"bytes{when}; {guess}); it was not overwritten (--replace-foreign replaces it)")

    def sha_index(self) -> dict[str, tuple[str, dict[str, Any]]]:
        if self._sha_index is None:
            self._sha_index = {}
            for pid, product in self.products.items():
                for version in product["versions"].values():
                    for sha in [version.get("sha256")] + [v.get("sha256") for v in version.get("variants") or []]:
                        if sha:
                            self._sha_index.setdefault(sha, (pid, version))
        return self._sha_index

    def manifest_keys(self) -> dict[str, str]:
        if self._manifest_keys is None:
            self._manifest_keys = {}
            for name, doc in self.manifests().items():
                for row in doc.get("items") or doc.get("products") or []:
                    if isinstance(row, dict) and isinstance(row.get("key"), str):
                        self._manifest_keys.setdefault(row["key"], f"{MANIFEST_PREFIX}/{name}")
        return self._manifest_keys

    def manifests(self) -> dict[str, dict[str, Any]]:
        """name -> JSON of each ``TARGET/_manifests/*.json`` (unreadable ones left out)."""
        out = {}
        try:
            entries = self.target.fs.ls(self.target.path(MANIFEST_PREFIX), detail=False)
        except FileNotFoundError:
            return out
        for path in entries:
            name = posixpath.basename(str(path))
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                doc = json.loads(self.target.read_bytes(f"{MANIFEST_PREFIX}/{name}", max_bytes=MAX_MANIFEST_BYTES))
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict):
                out[name] = doc
        return out

    # ------------------------------------------------------------------ records
    def save(self) -> None:
        """Live rows into the catalogue (one compare-and-swap per shard) and into the homes'
        published.json (one per home whose rows changed)."""
        changes = {pid: row for pid, row in self.live_changes.items()}
        if not changes:
            return
        target_id = self.target_id

        def make(row: dict[str, Any] | None):
            def change(p: dict[str, Any] | None) -> dict[str, Any] | None:
                if p is None:
                    return None
                for name in self.names_of_target(list(p.get("live", {}))):
                    p["live"].pop(name, None)
                set_live(p, target_id, None if row is None else {k: v for k, v in row.items() if k != "product"})
                return p
            return change

        self.catalogue.update({pid: make(row) for pid, row in changes.items()})
        by_home: dict[str, dict[str, dict[str, Any] | None]] = {}
        for pid, row in changes.items():
            old = self.old_live(pid)
            if old is not None and old.get("version"):
                home, _, item = old["version"].partition("/")
                by_home.setdefault(home, {})[item] = None
            if row is not None:
                home, _, item = row["version"].partition("/")
                by_home.setdefault(home, {})[item] = row
        for home, rows in sorted(by_home.items()):
            file = CasJsonFile(self.catalogue.store, f"{safe_key(home)}/{PUBLISHED_FILE}", lambda: {"targets": {}})

            def apply(doc: dict[str, Any], rows: dict[str, dict[str, Any] | None] = rows) -> None:
                targets = doc.setdefault("targets", {})
                for name in self.names_of_target(list(targets)):
                    if name != target_id:
                        targets.setdefault(target_id, {}).update(targets.pop(name))
                mine = targets.setdefault(target_id, {})
                for item, row in rows.items():
                    if row is None:
                        mine.pop(item, None)
                    else:
                        mine[item] = row
                if not mine:
                    targets.pop(target_id)

            file.update(apply)

    def old_live(self, pid: str) -> dict[str, Any] | None:
        """What was live for ``pid`` in this target when the run started."""
        lives = self.products[pid].get("live", {})
        names = self.names_of_target(lives)
        return lives[names[0]] if names else None

    def write_manifests(self) -> str:
        """``_manifests/products.json`` and one ``_manifests/<batch_id>.json`` per batch with a live
        version here (or with a manifest from before), each rewritten only when it changes."""
        rows = []
        for pid in sorted(self.products):
            live = self.live(pid)
            if live is None:
                continue
            home, _, item = str(live.get("version")).partition("/")
            rows.append({"product": pid, "label": product_label(pid), "version": live.get("version"), "batch": home,
                         "item": item, "key": live.get("key"), "sha256": live.get("sha256"),
                         "variant": live.get("variant"), "published_at": live.get("published_at")})
        body = {"catalogue": self.catalogue.url, "target": self.target_id, "products": rows}
        uri = self._write_if_changed(PRODUCTS_MANIFEST, body)
        homes = self.catalogue.homes()
        per_home: dict[str, list[dict[str, Any]]] = {  # existing manifests of this catalogue's batches
            name[:-5]: [] for name, doc in self.manifests().items()
            if name != posixpath.basename(PRODUCTS_MANIFEST) and name[:-5] in homes
            and doc.get("catalogue", self.catalogue.url) == self.catalogue.url}
        for row in rows:
            per_home.setdefault(row["batch"], []).append(row)
        for home, home_rows in sorted(per_home.items()):
            self._write_if_changed(f"{MANIFEST_PREFIX}/{home}.json",
                                   {"batch_id": home, "catalogue": self.catalogue.url, "items": home_rows})
        return uri

    def _write_if_changed(self, key: str, body: dict[str, Any]) -> str:
        try:
            if json.loads(self.target.read_bytes(key, max_bytes=MAX_MANIFEST_BYTES)) == body:
                return self.target.uri(key)
        except (FileNotFoundError, ValueError):
            pass
        return self.target.write_bytes(key, json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")


def publish(dest: Bucket, target: Bucket, *, batch: str | None = None, strip_prefix: str = "",
            withdraw: bool = False, replace_foreign: bool = False,
            catalogue: Catalogue | None = None) -> PublishResult:
    """Publish the products of ``dest`` (of one ``batch`` when given) to ``target`` (see the
    module docstring). Never raises for one product's trouble: it becomes a ``failed`` entry."""
    catalogue = catalogue or Catalogue(dest)
    catalogue.sync()
    run = _Run(catalogue, target, strip_prefix, withdraw, replace_foreign)
    scope = sorted(pid for pid, p in run.products.items()
                   if batch is None or any(v.get("home") == batch for v in p["versions"].values()))
    try:
        for pid in scope:
            try:
                run.product(pid)
            except Exception as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                run.result.failed.append({"product": pid, "key": (run.live(pid) or {}).get("key"),
                                          "reason": f"{type(exc).__name__}: {reason}"})
                log.debug("publishing %s failed", pid, exc_info=True)
    finally:
        try:
            run.save()
        finally:
            run.result.manifest = run.write_manifests()
    r = run.result
    for label in ("copied", "updated", "unchanged", "withdrawn"):
        log.info("%s: %d", label, len(getattr(r, label)))
    for row in r.stale:
        log.warning("%s is live as %s but has no approved version now (%s): it stays there until publish "
                    "--withdraw", product_label(row["product"]), row["key"], row["decision"])
    for row in r.refused:
        log.warning("%s not published: %s", product_label(row["product"]), row["reason"])
    for row in r.failed:
        log.warning("%s failed: %s (a rerun tries again)", product_label(row["product"]), row["reason"])
    return r
