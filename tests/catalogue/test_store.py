"""The catalogue on a folder: incremental sync, rebuild from the batch folders, legacy
decisions.json read as it is, compare-and-swap under concurrent reviewers, fixes as versions."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import threading

import pytest

from pipeline.batch.ids import item_id_for_key
from pipeline.catalogue.fixes import add_fix_version
from pipeline.catalogue.model import summarize
from pipeline.catalogue.store import Catalogue, CatalogueDamaged, StaleCompositeError
from pipeline.io.storage import Bucket, delete_prefix
from tests.review.fake_batches import FakeItem, picture, write_fake_batch
from tests.review.stores import upload

KEYS = [f"shelf/p{i}.jpg" for i in range(6)]


def two_batches(dest):
    write_fake_batch(dest, "b1", [FakeItem(k, "fail" if i == 0 else "pass") for i, k in enumerate(KEYS)],
                     "2026-01-01T00:00:00+00:00")
    write_fake_batch(dest, "b2", [FakeItem(KEYS[0], "pass"), FakeItem(KEYS[1], "pass", look=1),
                                  FakeItem("shelf/new.jpg", "pass", sku="SKU-9")], "2026-01-02T00:00:00+00:00")


def version_of(catalogue, key, home):
    return catalogue.product(f"key:{key}")["versions"][f"{home}/{item_id_for_key(key)}"]


def test_sync_ingests_each_batch_once_and_a_new_one_when_it_appears(tmp_path):
    write_fake_batch(tmp_path, "b1", [FakeItem(k) for k in KEYS], "2026-01-01T00:00:00+00:00")
    (tmp_path / "running").mkdir()  # a batch still running: no report.json yet
    cat = Catalogue(Bucket(tmp_path))
    first = cat.sync()
    assert first.ingested == ["b1"] and first.waiting == ["running"]
    assert len(cat.load()) == 6 and cat.homes()["b1"]["items"] == 6
    shard_mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "_catalogue" / "products").iterdir()}
    assert cat.sync().ingested == []  # nothing new: nothing read, nothing written
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "_catalogue" / "products").iterdir()} == shard_mtimes
    write_fake_batch(tmp_path, "b2", [FakeItem(KEYS[0], look=1), FakeItem("shelf/new.jpg", sku="SKU-9")],
                     "2026-01-02T00:00:00+00:00")
    assert cat.sync(check_changed=False).ingested == ["b2"]
    products = cat.load()
    assert set(products) == {f"key:{k}" for k in KEYS} | {"sku:SKU-9"}
    assert summarize(products[f"key:{KEYS[0]}"])["version"] == f"b2/{item_id_for_key(KEYS[0])}"
    assert len(products[f"key:{KEYS[0]}"]["versions"]) == 2


def test_a_lost_or_damaged_catalogue_comes_back_the_same_from_the_batch_folders(where, tmp_path):
    dest, _, opts = where
    two_batches(tmp_path / "made")
    upload(tmp_path / "made", dest, opts)
    bucket = Bucket(dest, opts)
    cat = Catalogue(bucket)
    cat.sync()
    v1 = version_of(cat, KEYS[0], "b1")
    cat.decide(f"key:{KEYS[0]}", v1["id"], "rejected", "alice", note="shadow kept", seen_sha256=v1["sha256"])
    v2 = version_of(cat, KEYS[1], "b2")
    cat.decide(f"key:{KEYS[1]}", v2["id"], "approved", "bob", seen_sha256=v2["sha256"])
    cat.decide(f"key:{KEYS[1]}", v2["id"], "undecided", "bob", note="looking again")
    before = cat.load()
    delete_prefix(bucket, "_catalogue")  # lost: the next sync rebuilds it by itself
    assert sorted(cat.sync().ingested) == ["b1", "b2"]
    assert cat.load() == before
    shard = f"_catalogue/products/{cat.shard_names()[0]}.json"
    bucket.write_bytes(shard, b"{ not json")  # damaged: reading says so and what to do; nothing is overwritten
    with pytest.raises(CatalogueDamaged, match="--rebuild"):
        cat.load()
    assert bucket.read_bytes(shard) == b"{ not json"
    stats = cat.rebuild()
    assert cat.load() == before and stats == {"homes": 2, "products": 7, "decisions": 3}


def test_legacy_decisions_json_is_read_as_it_is_with_its_history(tmp_path):
    write_fake_batch(tmp_path, "old", [FakeItem(k) for k in KEYS[:2]], "2025-12-01T00:00:00+00:00")
    ids = [item_id_for_key(k) for k in KEYS[:2]]
    sha = json.loads((tmp_path / "old" / ids[0] / "meta.json").read_text())["composite_sha256"]["composite.png"]
    legacy = {"batch_id": "old", "schema": 1, "revision": 3, "items": {
        ids[0]: {"decision": "approved", "note": "fine now", "variant": None, "reviewer": "bob",
                 "decided_at": "2025-12-02T10:00:00.000+00:00", "composite_sha256": sha, "rev": 2,
                 "history": [{"decision": "rejected", "note": "fringe on the handle", "variant": None,
                              "reviewer": "alice", "decided_at": "2025-12-01T10:00:00.000+00:00",
                              "composite_sha256": sha}]},
        ids[1]: {"decision": "rejected", "note": "", "variant": None, "reviewer": "alice",
                 "decided_at": "2025-12-01T11:00:00.000+00:00", "composite_sha256": "f" * 64, "rev": 1,
                 "history": []},
        "gone-item": {"decision": "approved", "reviewer": "x", "decided_at": "2025-12-01T00:00:00+00:00"}}}
    raw = json.dumps(legacy).encode()
    (tmp_path / "old" / "decisions.json").write_bytes(raw)
    cat = Catalogue(Bucket(tmp_path))
    cat.sync()
    first = cat.product(f"key:{KEYS[0]}")
    assert [(d["decision"], d["reviewer"], d["how"]) for d in first["decisions"]] == [
        ("rejected", "alice", "migrated"), ("approved", "bob", "migrated")]
    row = summarize(first)
    assert row["state"] == "approved" and row["rejected_before"]
    second = summarize(cat.product(f"key:{KEYS[1]}"))
    assert second["state"] == "undecided"  # its decision was on other bytes: history, not the state
    assert (tmp_path / "old" / "decisions.json").read_bytes() == raw  # never rewritten
    assert cat.rebuild()["decisions"] == 3 and cat.product(f"key:{KEYS[0]}") == first


def test_a_decision_on_bytes_the_page_did_not_show_is_refused(tmp_path):
    two_batches(tmp_path)
    cat = Catalogue(Bucket(tmp_path))
    cat.sync()
    v = version_of(cat, KEYS[2], "b1")
    with pytest.raises(StaleCompositeError):
        cat.decide(f"key:{KEYS[2]}", v["id"], "approved", "alice", seen_sha256="0" * 64)
    assert not (tmp_path / "b1" / "_decisions").exists()


def _reviewer(dest: str, opts: dict | None, name: str, keys: list[str], homes: list[str], rounds: int) -> None:
    cat = Catalogue(Bucket(dest, opts))
    for r in range(rounds):
        for key in keys:
            for home in homes:
                product = cat.product(f"key:{key}")
                vid = f"{home}/{item_id_for_key(key)}"
                if vid in product["versions"]:
                    cat.decide(f"key:{key}", vid, "rejected" if r % 2 else "approved", name, note=f"{name} {r}",
                               seen_sha256=product["versions"][vid]["sha256"], product=product)


def test_two_reviewers_deciding_across_batches_at_once_lose_nothing(where, tmp_path):
    """Two reviewers' processes and a third in a thread decide the same products (same shards)
    in both batches at once: every decision is in the catalogue and in its batch's journal."""
    dest, _, opts = where
    two_batches(tmp_path / "made")
    upload(tmp_path / "made", dest, opts)
    cat = Catalogue(Bucket(dest, opts))
    cat.sync()
    assert cat.store.atomicity in ("local-lock", "conditional")
    ctx = multiprocessing.get_context("spawn")  # two processes: two reviewers' servers
    procs = [ctx.Process(target=_reviewer, args=(dest, opts, name, KEYS[:3], ["b1", "b2"], 3))
             for name in ("alice", "bob")]
    for p in procs:
        p.start()
    thread = threading.Thread(target=_reviewer, args=(dest, opts, "carol", KEYS[3:], ["b1"], 3))
    thread.start()
    for p in procs:
        p.join(300)
    thread.join(300)
    assert all(p.exitcode == 0 for p in procs)
    products = cat.load()
    expected = {f"key:{k}": 2 * 3 * (2 if k in (KEYS[0], KEYS[1]) else 1) for k in KEYS[:3]}
    expected.update({f"key:{k}": 3 for k in KEYS[3:]})
    assert {pid: len(p["decisions"]) for pid, p in products.items() if pid in expected} == expected
    journal = [k for k in Bucket(dest, opts).fs.find(Bucket(dest, opts).root) if "/_decisions/" in k]
    assert len(journal) == sum(expected.values())  # every decision also in its batch's journal
    assert cat.rebuild()["decisions"] == sum(expected.values()) and cat.load() == products


def test_a_reviewers_fix_is_a_new_version_with_its_own_bytes_author_and_corrections(tmp_path):
    two_batches(tmp_path)
    cat = Catalogue(Bucket(tmp_path))
    cat.sync()
    pid = f"key:{KEYS[0]}"
    based = version_of(cat, KEYS[0], "b2")
    fixed = picture("fixed", 0)
    version = add_fix_version(cat, pid, based_on=based["id"], composite=fixed, suffix=".png", reviewer="dana",
                              verdict="pass", corrections={"strokes": [[1, 2, 3]]})
    product = cat.product(pid)
    row = summarize(product)
    assert row["version"] == version["id"] and row["origin"] == "fix" and row["state"] == "undecided"
    assert version["reviewer"] == "dana" and version["based_on"] == based["id"]
    assert (tmp_path / version["home"] / version["file"]).read_bytes() == fixed
    assert json.loads((tmp_path / version["corrections"]).read_text()) == {"strokes": [[1, 2, 3]]}
    cat.decide(pid, version["id"], "approved", "erin", seen_sha256=version["sha256"])
    before = cat.load()
    shutil.rmtree(tmp_path / "_catalogue")
    cat.sync()
    assert cat.load() == before  # the fix and its decision come back from _fixes/
