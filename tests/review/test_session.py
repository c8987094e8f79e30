"""The review session without a browser: two reviewers' servers keeping up with each other, a
batch scope, "approve all passed" against a decision made meanwhile, the heat map's one line."""

from __future__ import annotations

import pytest

from pipeline.io.storage import Bucket
from pipeline.review.folder import NotABatchError
from pipeline.review.session import ReviewSession, heat_availability
from tests.review.fake_batches import FakeItem, write_fake_batch

KEYS = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]


@pytest.fixture
def dest(tmp_path):
    out = tmp_path / "out"
    write_fake_batch(out, "b1", [FakeItem(k, "fail" if k == "a.jpg" else "pass") for k in KEYS],
                     "2026-01-01T00:00:00+00:00")
    write_fake_batch(out, "b2", [FakeItem("b.jpg", look=1), FakeItem("e.jpg")], "2026-01-02T00:00:00+00:00")
    return out


def sha_of(s: ReviewSession, pid: str) -> tuple[str, str]:
    row = s.rows[pid]
    return row["version"], s.version(pid, row["version"])["sha256"]


def test_a_second_reviewers_server_picks_up_the_firsts_decisions(dest):
    alice, bob = ReviewSession(Bucket(dest), "alice"), ReviewSession(Bucket(dest), "bob")
    since = bob.revision
    vid, sha = sha_of(alice, "key:c.jpg")
    alice.decide("key:c.jpg", vid, "rejected", note="scratched", seen_sha256=sha)
    bob._refreshed = 0.0
    changed = bob.changes(since, {})
    assert [r["product"] for r in changed["rows"]] == ["key:c.jpg"] and changed["rows"][0]["state"] == "rejected"
    assert changed["counts"]["decision"]["rejected"] == 1


def test_a_batch_scope_shows_its_products_with_their_newest_version(dest):
    s = ReviewSession(Bucket(dest), "alice", batch="b2")
    page = s.queue({"decision": "all"})
    assert [(r["label"], r["home"], r["versions"]) for r in page["rows"]] == [("b.jpg", "b2", 2), ("e.jpg", "b2", 1)]
    assert page["counts"]["products"] == 2
    with pytest.raises(ValueError, match="batch b2 only"):
        s.queue({"batch": "b1"})
    older = ReviewSession(Bucket(dest), "alice", batch="b1").queue({"decision": "all"})
    assert {r["label"]: r["home"] for r in older["rows"]}["b.jpg"] == "b2"  # superseded: the newer one shows
    with pytest.raises(NotABatchError):
        ReviewSession(Bucket(dest), "alice", batch="b9")
    history = s.product_view("key:b.jpg")["history"]
    assert [(h["number"], h["home"], h["newest"]) for h in history] == [(2, "b2", True), (1, "b1", False)]


def test_approve_all_passed_leaves_a_product_another_reviewer_decided_meanwhile(dest):
    alice, bob = ReviewSession(Bucket(dest), "alice"), ReviewSession(Bucket(dest), "bob")
    approvable = alice.approvable({})
    assert approvable == ["key:b.jpg", "key:c.jpg", "key:d.jpg", "key:e.jpg"]
    vid, sha = sha_of(bob, "key:d.jpg")
    bob.decide("key:d.jpg", vid, "rejected", note="wrong colour", seen_sha256=sha)
    with pytest.raises(ValueError, match="3 passed products"):
        alice.approve_passed(4, {})  # the count the reviewer confirmed is not right any more
    done = alice.approve_passed(3, {})
    assert done["approved"] == ["key:b.jpg", "key:c.jpg", "key:e.jpg"]
    assert alice.rows["key:d.jpg"]["state"] == "rejected"
    assert alice.decisions_block("b1")["counts"] == {"approved": 1, "rejected": 1, "undecided": 2}  # b: in b2


def test_the_heat_map_says_why_it_is_empty():
    assert heat_availability({"delta_e00_p95": 7.5}, True, True) == {"available": True, "why": ""}
    exact = heat_availability({"delta_e00_p95": 0.0}, True, True)
    assert not exact["available"] and "exact mode" in exact["why"]
    assert "original.png" in heat_availability({}, False, True)["why"]
