"""A version made by a reviewer's fix (a corrected cut-out, say), not by a batch.

Its home is ``DEST/_fixes/<fix_id>/``: ``composite.<ext>`` (the fixed result's bytes),
``meta.json`` (metrics and variants, as a batch item's), ``corrections.json`` (what the reviewer
changed, when given), any further pictures (``mask.png``, ``original.png``, so the review page
draws the fix's mask outline and heat map) and ``version.json`` (the version record: it makes the
fix a version). Every file is created once and never rewritten. The version goes into the
product's shard like any other, and is reviewed, decided and published by the same rules (it is
the product's newest version). Rebuild reads ``_fixes/`` with the batch folders.

With ``expect_newest`` the fix is a compare-and-swap: it is added only if that version is still
the product's newest, checked inside the shard's own compare-and-swap (:class:`StaleVersionError`
otherwise), and ``version.json`` is written after the shard took it, so a refused fix never comes
back through a sync. (A crash between those two writes leaves the version in the catalogue
but not in ``_fixes/``: a ``--rebuild`` would not see it; its files stay.)
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from pipeline.catalogue.homes import FIX_RECORD, FIXES_HOME, sha256_hex
from pipeline.catalogue.model import DecisionError, now_iso, ordered_versions, put_version
from pipeline.catalogue.store import Catalogue, UnknownProduct

SUFFIXES = (".png", ".jpg", ".webp")
RESERVED = ("meta.json", "corrections.json", FIX_RECORD)  # written here, never taken from ``files``


class StaleVersionError(RuntimeError):
    """The product's newest version is no longer the one the fix was started on (another batch
    or another reviewer's fix came in meanwhile); nothing was added."""


def add_fix_version(catalogue: Catalogue, pid: str, *, based_on: str, composite: bytes, suffix: str,
                    reviewer: str, verdict: str, reasons: list[str] | tuple[str, ...] = (),
                    meta: dict[str, Any] | None = None, corrections: dict[str, Any] | None = None,
                    files: dict[str, bytes] | None = None, expect_newest: str | None = None) -> dict[str, Any]:
    """Store a fixed result of product ``pid`` as its new version; returns the version record.

    ``based_on``: the version that was fixed; ``composite``: the fixed image's bytes (``suffix``
    .png, .jpg or .webp); ``verdict``: "pass" or "fail" from scoring the fix (``reasons`` as
    the gate gave them); ``meta``: its meta.json (``metrics`` shown on the page); ``corrections``:
    what the reviewer changed (stored as ``corrections.json``, the version points at it);
    ``files``: further pictures by plain file name (``mask.png``, ``original.png``);
    ``expect_newest``: the version id that must still be the product's newest
    (:class:`StaleVersionError` otherwise, see the module docstring)."""
    product = catalogue.product(pid)
    source = product["versions"].get(based_on)
    if source is None:
        raise UnknownProduct(f"{pid} has no version {based_on!r}")
    _check_newest(product, expect_newest)
    for extra in files or {}:
        if not extra or "/" in extra or extra.startswith((".", "composite")) or extra in RESERVED:
            raise ValueError(f"a fix's extra file needs a plain name other than {RESERVED} and composite*, got {extra!r}")
    if suffix not in SUFFIXES:
        raise ValueError(f"suffix must be one of {SUFFIXES}, got {suffix!r}")
    if verdict not in ("pass", "fail"):
        raise ValueError(f"verdict must be pass or fail, got {verdict!r}")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise DecisionError(f"reviewer must be a non-empty name, got {reviewer!r}")
    fix_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(4)}"
    prefix = f"{FIXES_HOME}/{fix_id}"
    store = catalogue.store
    name = f"composite{suffix}"
    store.create(f"{prefix}/{name}", composite)
    store.create(f"{prefix}/meta.json", json.dumps({**(meta or {}), "source": source.get("source"),
                                                    "composite_sha256": {name: sha256_hex(composite)}}).encode())
    corrections_key = None
    if corrections is not None:
        corrections_key = f"{prefix}/corrections.json"
        store.create(corrections_key, json.dumps(corrections, ensure_ascii=False).encode("utf-8"))
    for extra, data in (files or {}).items():
        store.create(f"{prefix}/{extra}", data)
    version = {
        "id": f"{FIXES_HOME}/{fix_id}", "home": FIXES_HOME, "item": fix_id, "origin": "fix",
        "source": source.get("source"), "created_at": now_iso(), "status": "ok", "outcome": verdict,
        "verdict": verdict, "reasons": [str(r) for r in reasons], "error": None,
        "file": f"{fix_id}/{name}", "sha256": sha256_hex(composite), "variants": [], "default_variant": None,
        "reviewer": reviewer.strip(), "corrections": corrections_key, "based_on": based_on,
    }
    record = {"product": pid, "sku": product.get("sku"), "version": version}

    def add(current: dict[str, Any] | None) -> dict[str, Any]:
        current = current if current is not None else product
        _check_newest(current, expect_newest)  # inside the shard's compare-and-swap
        put_version(current, version)
        return current

    catalogue.update({pid: add})
    store.create(f"{prefix}/{FIX_RECORD}", json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return version


def _check_newest(product: dict[str, Any], expect_newest: str | None) -> None:
    if expect_newest is None:
        return
    versions = ordered_versions(product)
    newest = versions[-1]["id"] if versions else None
    if newest != expect_newest:
        raise StaleVersionError(f"{product.get('id')}: its newest version is now {newest}, not {expect_newest} "
                                "(a new batch or another reviewer's fix came in); look at it again")
