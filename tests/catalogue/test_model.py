"""The decision rules on plain records: newest version, rejections carried to identical bytes,
"rejected before", the version publish puts live; product identity."""

from __future__ import annotations

import pytest

from pipeline.catalogue.model import (
    DecisionError,
    add_decision,
    approved_version,
    check_variant,
    empty_product,
    new_decision,
    put_version,
    summarize,
)
from pipeline.catalogue.products import SHARD_HEX, product_id, product_label, shard_of, sidecar_sku

A, B, C = "a" * 64, "b" * 64, "c" * 64


def version(vid: str, sha: str, when: str, outcome: str = "pass") -> dict:
    home, _, item = vid.partition("/")
    return {"id": vid, "home": home, "item": item, "origin": "batch", "source": "mug.jpg", "created_at": when,
            "status": "ok", "outcome": outcome, "verdict": outcome, "reasons": [], "error": None,
            "file": f"{item}/composite.png", "sha256": sha, "variants": [], "default_variant": None}


def decide(p: dict, vid: str, decision: str, sha: str | None, when: str, note: str = "", who: str = "alice") -> dict:
    d = new_decision(product=p["id"], version=vid, decision=decision, reviewer=who, note=note, sha256=sha,
                     decided_at=when)
    add_decision(p, d)
    return d


def product(*versions: dict) -> dict:
    p = empty_product("key:mug.jpg")
    for v in versions:
        put_version(p, v)
    return p


def test_a_rejection_is_carried_to_a_newer_version_with_the_same_bytes():
    p = product(version("A/mug", A, "2026-01-01"), version("B/mug", A, "2026-01-02"))
    decide(p, "A/mug", "rejected", A, "2026-01-01T10:00:00.000+00:00", note="reflection plate kept under the mug")
    row = summarize(p)
    assert row["version"] == "B/mug" and row["state"] == "rejected" and row["carried"]
    assert row["note"] == "same image as rejected on 2026-01-01 by alice: reflection plate kept under the mug"
    assert not row["approvable"] and approved_version(p) is None


def test_a_new_version_with_other_bytes_waits_for_a_person_when_it_was_rejected_before():
    p = product(version("A/mug", A, "2026-01-01"), version("B/mug", B, "2026-01-02"))
    decide(p, "A/mug", "rejected", A, "2026-01-01T10:00:00.000+00:00")
    row = summarize(p)
    assert (row["state"], row["carried"], row["rejected_before"], row["approvable"]) == ("undecided", False, True,
                                                                                         False)
    decide(p, "B/mug", "approved", B, "2026-01-03T10:00:00.000+00:00")
    assert summarize(p)["state"] == "approved" and approved_version(p)[0]["id"] == "B/mug"


def test_publish_takes_the_newest_approved_version_and_none_when_every_one_is_rejected():
    p = product(version("A/mug", A, "2026-01-01"), version("B/mug", B, "2026-01-02"),
                version("C/mug", C, "2026-01-03", outcome="fail"))
    decide(p, "A/mug", "approved", A, "2026-01-01T10:00:00.000+00:00")
    decide(p, "B/mug", "approved", B, "2026-01-02T10:00:00.000+00:00")
    assert approved_version(p)[0]["id"] == "B/mug"  # C is newer but undecided
    decide(p, "A/mug", "rejected", A, "2026-01-04T10:00:00.000+00:00")  # rejecting the older one
    assert approved_version(p)[0]["id"] == "B/mug"  # ... leaves the newer approval live
    decide(p, "B/mug", "rejected", B, "2026-01-04T11:00:00.000+00:00")
    assert approved_version(p) is None


def test_a_decision_counts_only_while_the_version_keeps_the_bytes_it_was_made_on():
    p = product(version("A/mug", A, "2026-01-01"))
    decide(p, "A/mug", "approved", A, "2026-01-01T10:00:00.000+00:00")
    put_version(p, version("A/mug", B, "2026-01-05"))  # --reprocess into the same batch: new bytes
    row = summarize(p)
    assert row["state"] == "undecided" and approved_version(p) is None
    assert len(p["decisions"]) == 1  # kept, as history


def test_decisions_are_kept_in_time_order_once_each():
    p = product(version("A/mug", A, "2026-01-01"))
    late = decide(p, "A/mug", "approved", A, "2026-01-02T00:00:00.000+00:00")
    early = decide(p, "A/mug", "rejected", A, "2026-01-01T00:00:00.000+00:00")
    assert [d["id"] for d in p["decisions"]] == [early["id"], late["id"]]
    assert add_decision(p, dict(late)) is False and len(p["decisions"]) == 2
    assert summarize(p)["state"] == "approved"


@pytest.mark.parametrize("variant, count, word", [("abc", 2, "whole number"), (-1, 2, "whole number"),
                                                  (7, 2, "does not exist"), ([1], 2, "whole number"),
                                                  (True, 2, "whole number"), (0, 0, "no variants")])
def test_bad_variants_are_refused_with_the_reason(variant, count, word):
    with pytest.raises(DecisionError, match=word):
        check_variant(variant, count)


@pytest.mark.parametrize("kwargs, word", [
    ({"decision": "maybe"}, "decision"), ({"reviewer": " "}, "reviewer"), ({"note": 5}, "note"),
    ({"note": "n" * 5000}, "note"), ({"sha256": "XYZ"}, "composite_sha256"), ({"product": ""}, "product"),
    ({"decision_id": ""}, "id"),
])
def test_bad_decisions_are_refused_with_the_field_named(kwargs, word):
    args = {"product": "key:x", "version": "A/x", "decision": "approved", "reviewer": "alice", **kwargs}
    with pytest.raises(DecisionError, match=word):
        new_decision(**args)


def test_a_product_is_its_key_unless_its_sidecar_names_a_sku():
    assert product_id("shoes/red.jpg") == "key:shoes/red.jpg"
    assert product_id("shoes/red.jpg", sidecar_sku({"sku": " AB-12 "})) == "sku:AB-12"
    assert sidecar_sku({"sku": 12345}) == "12345" and sidecar_sku({"colour": "red"}) is None
    assert product_label("sku:AB-12") == "AB-12" and product_label("key:a/b.jpg") == "a/b.jpg"
    assert shard_of("key:a") == shard_of("key:a") and len(shard_of("key:a")) == SHARD_HEX
    for bad, word in (({"sku": ""}, "empty"), ({"sku": ["x"]}, "text"), ({"sku": "a\nb"}, "control"),
                      ({"sku": "x" * 300}, "longer"), ({"sku": True}, "text")):
        with pytest.raises(ValueError, match=word):
            sidecar_sku(bad)
