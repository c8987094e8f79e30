"""The catalogue's records and its decision rules (pure functions over plain JSON dicts).

A product record (one per product, JSON)::

    {"id": "key:shoes/red.jpg" | "sku:AB-12", "sku": str | None,
     "versions": {version id: version},          # every version ever ingested
     "decisions": [decision, ...],               # every decision, oldest first (the history)
     "live": {target: {"key", "sha256", "version", "variant", "published_at"}}}

A version (``id`` = ``"<home>/<item_id>"``; a home is a batch folder, or ``_fixes`` for a fix)::

    {"id", "home", "item", "origin": "batch" | "fix", "source": source key, "created_at": ISO UTC,
     "status": "ok" | "error", "outcome": "pass" | "fail" | "error", "verdict", "reasons": [str],
     "error": str | None, "file": "<item>/composite.png" | None, "sha256": str | None,
     "variants": [{"file", "sha256", "verdict"}],  # only when the item made several
     "default_variant": int | None,
     "reviewer", "corrections", "based_on"}        # a fix's author, its stored corrections, the version it fixed

A decision::

    {"id": unique str, "product", "version": version id, "decision": "approved" | "rejected" | "undecided",
     "note", "variant": int | None, "sha256": the composite the reviewer saw, "reviewer", "decided_at": ISO UTC,
     "how": "review" | "approve-all" | "migrated"}

Rules (:func:`summarize`):

- A decision is made on a version, and counts for it only while the version's composite is the
  one the reviewer saw (same sha256; a ``--reprocess`` rerun into the same batch makes it history).
- The newest version (by ``created_at``, then id) supersedes the older ones in the queue; older
  versions and their decisions stay in the history.
- A version without a decision of its own whose composite bytes equal a version that is
  rejected carries that rejection ("same image as rejected on <date> by <reviewer>: <note>").
- A product with a rejection anywhere in its history was "rejected before": "approve all
  passed" never approves it; a person looks at it, with the earlier note shown.
- Publishing puts the newest *approved* version live; a product with no approved version left
  is withdrawn (:mod:`pipeline.review.publish`).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

DECISIONS = ("approved", "rejected", "undecided")
HOW = ("review", "approve-all", "migrated")
MAX_NOTE_CHARS = 4000
MAX_REVIEWER_CHARS = 200
SHA256 = re.compile(r"[0-9a-f]{64}")


class DecisionError(ValueError):
    """A decision that cannot be recorded (bad value, unknown product or version); says why."""


def now_iso() -> str:
    """This instant, ISO-8601 UTC with milliseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_decision(*, product: str, version: str, decision: Any, reviewer: Any, note: Any = "",
                 variant: Any = None, sha256: Any = None, how: str = "review", decided_at: str | None = None,
                 decision_id: str | None = None) -> dict[str, Any]:
    """A validated decision dict; :class:`DecisionError` naming the bad field otherwise."""
    if not isinstance(product, str) or not product:
        raise DecisionError(f"product must be a non-empty string, got {product!r}")
    if not isinstance(version, str) or not version:
        raise DecisionError(f"version must be a non-empty string, got {version!r}")
    if decision not in DECISIONS:
        raise DecisionError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise DecisionError(f"note must be text of at most {MAX_NOTE_CHARS} characters")
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > MAX_REVIEWER_CHARS:
        raise DecisionError(f"reviewer must be a non-empty name of at most {MAX_REVIEWER_CHARS} characters, "
                            f"got {reviewer!r}")
    check_variant(variant)
    if sha256 is not None and (not isinstance(sha256, str) or not SHA256.fullmatch(sha256)):
        raise DecisionError(f"composite_sha256 must be 64 lowercase hex digits, got {sha256!r}")
    if how not in HOW:
        raise DecisionError(f"how must be one of {HOW}, got {how!r}")
    if decision_id is not None and (not isinstance(decision_id, str) or not decision_id):
        raise DecisionError(f"decision id must be a non-empty string, got {decision_id!r}")
    return {"id": decision_id or secrets.token_hex(8), "product": product, "version": version,
            "decision": decision, "note": note, "variant": variant, "sha256": sha256,
            "reviewer": reviewer.strip(), "decided_at": now_iso() if decided_at is None else decided_at, "how": how}


def check_variant(variant: Any, count: int | None = None) -> None:
    """``variant`` is None or an int in ``0 .. count-1`` (any int >= 0 when ``count`` is None)."""
    if variant is None:
        return
    if isinstance(variant, bool) or not isinstance(variant, int) or variant < 0:
        raise DecisionError(f"variant must be a whole number >= 0 or null, got {variant!r}")
    if count is not None and variant >= count:
        have = f"{count} variant{'s' if count != 1 else ''}" if count else "no variants"
        raise DecisionError(f"variant {variant} does not exist: this version has {have}")


# ---------------------------------------------------------------------------- merging records
def empty_product(pid: str, sku: str | None = None) -> dict[str, Any]:
    return {"id": pid, "sku": sku, "versions": {}, "decisions": [], "live": {}}


def put_version(product: dict[str, Any], version: dict[str, Any]) -> None:
    """Add or replace a version (same id: the home was rewritten, e.g. ``--reprocess``)."""
    product.setdefault("versions", {})[version["id"]] = version


def add_decision(product: dict[str, Any], decision: dict[str, Any]) -> bool:
    """Insert ``decision`` in time order; False (nothing changed) when its id is already there."""
    decisions = product.setdefault("decisions", [])
    if any(d.get("id") == decision["id"] for d in decisions):
        return False
    decisions.append(decision)
    decisions.sort(key=lambda d: (str(d.get("decided_at", "")), str(d.get("id", ""))))
    return True


def set_live(product: dict[str, Any], target: str, row: dict[str, Any] | None) -> None:
    """What is live for this product in ``target`` (None: nothing any more)."""
    live = product.setdefault("live", {})
    if row is None:
        live.pop(target, None)
    else:
        live[target] = row


# ---------------------------------------------------------------------------- rules
def ordered_versions(product: dict[str, Any]) -> list[dict[str, Any]]:
    """Versions oldest first (``created_at``, then id)."""
    return sorted(product.get("versions", {}).values(), key=lambda v: (str(v.get("created_at") or ""), v["id"]))


def composite_shas(version: dict[str, Any]) -> set[str]:
    """Every composite a reviewer may have seen for a version (the default and each variant)."""
    shas = {version.get("sha256")} | {v.get("sha256") for v in version.get("variants") or []}
    return {s for s in shas if s}


def composite_for(version: dict[str, Any], variant: int | None) -> tuple[str | None, str | None]:
    """(file, sha256) of the composite shown for ``variant`` (None: the default one)."""
    if variant is None:
        return version.get("file"), version.get("sha256")
    variants = version.get("variants") or []
    if 0 <= variant < len(variants):
        return variants[variant].get("file"), variants[variant].get("sha256")
    return None, None


def own_decision(product: dict[str, Any], version: dict[str, Any]) -> dict[str, Any] | None:
    """The latest decision made on this version that still counts (its composite unchanged)."""
    shas = composite_shas(version)
    for d in reversed(product.get("decisions", [])):
        if d.get("version") != version["id"]:
            continue
        if d.get("decision") == "undecided" or d.get("sha256") in shas:
            return d
    return None


def effective(product: dict[str, Any], version: dict[str, Any]) -> tuple[str, dict[str, Any] | None, bool]:
    """(state, the decision behind it, carried): a version's own decision, else a rejection of
    identical bytes on another version of the product, else undecided."""
    own = own_decision(product, version)
    if own is not None:
        return own["decision"], own, False
    shas = composite_shas(version)
    carried = None
    if shas:
        for other in product.get("versions", {}).values():
            if other["id"] == version["id"]:
                continue
            d = own_decision(product, other)
            if (d is not None and d["decision"] == "rejected" and d.get("sha256") in shas
                    and (carried is None or (d["decided_at"], d["id"]) > (carried["decided_at"], carried["id"]))):
                carried = d
    if carried is not None:
        return "rejected", carried, True
    return "undecided", None, False


def carried_note(decision: dict[str, Any]) -> str:
    """``same image as rejected on 2026-01-02 by alice: <note>``."""
    when = str(decision.get("decided_at", ""))[:10]
    note = decision.get("note") or "(no note)"
    return f"same image as rejected on {when} by {decision.get('reviewer')}: {note}"


def approved_version(product: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(version, decision) of the newest approved version, None when none is approved."""
    for version in reversed(ordered_versions(product)):
        state, decision, _ = effective(product, version)
        if state == "approved" and decision is not None:
            return version, decision
    return None


def summarize(product: dict[str, Any]) -> dict[str, Any] | None:
    """The queue row of a product: its newest version and where it stands (None: no versions)."""
    versions = ordered_versions(product)
    if not versions:
        return None
    newest = versions[-1]
    state, decision, carried = effective(product, newest)
    rejected_before = any(d.get("decision") == "rejected" and d is not decision for d in product.get("decisions", [])
                          ) or carried
    approved = approved_version(product)
    return {
        "product": product["id"], "sku": product.get("sku"), "versions": len(versions),
        "version": newest["id"], "home": newest.get("home"), "item": newest.get("item"),
        "origin": newest.get("origin", "batch"), "source": newest.get("source"), "outcome": newest.get("outcome"),
        "created_at": newest.get("created_at"), "state": state, "carried": carried,
        "note": carried_note(decision) if carried and decision else (decision or {}).get("note", ""),
        "decided_by": (decision or {}).get("reviewer"), "decided_at": (decision or {}).get("decided_at"),
        "rejected_before": bool(rejected_before),
        "approvable": newest.get("outcome") == "pass" and state == "undecided" and not rejected_before,
        "approved_version": approved[0]["id"] if approved else None,
        "live": sorted(product.get("live", {})),
    }
