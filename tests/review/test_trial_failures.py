"""The three failures of the shop trial (issue 14), as regression tests, on a local folder and on
S3 (SeaweedFS), with batches made by the real pipeline:

1. a rejected image went live: the same bytes came back in a later batch as an undecided pass;
2. withdrawing from an older batch deleted the image a newer batch had approved and published;
3. a newer batch could never replace what an older one had published.
"""

from __future__ import annotations

import json

import cv2

from pipeline.batch import item_id_for_key, run_batch
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.review.publish import publish
from pipeline.review.session import ReviewSession
from pipeline.samples import write_samples

CONFIG = PipelineConfig().with_overrides({"placement.size": (128, 128)})


def run(src, dest, batch_id, opts, config=CONFIG):
    return run_batch(str(src), dest, config, batch_id=batch_id, skip_done=True, storage_options=opts)


def session(dest, opts, batch=None, reviewer="alice") -> ReviewSession:
    return ReviewSession(Bucket(dest, opts), reviewer, batch=batch)


def decide_on(s: ReviewSession, key: str, home: str, decision: str, note: str = "") -> None:
    pid = f"key:{key}"
    vid = f"{home}/{item_id_for_key(key)}"
    s.decide(pid, vid, decision, note=note, seen_sha256=s.version(pid, vid)["sha256"])


def touch_photo(path) -> None:
    """Other bytes for the same photo (a new shoot of the product)."""
    img = cv2.imread(str(path))
    img[2:6, 2:6] = (img[2:6, 2:6].astype(int) + 9).clip(0, 255).astype("uint8")
    cv2.imwrite(str(path), img)


def live_bytes(target, key, opts) -> bytes:
    return Bucket(target, opts).read_bytes(key)


def composite(dest, home, key, opts) -> bytes:
    return Bucket(dest, opts).read_bytes(f"{home}/{item_id_for_key(key)}/composite.png")


def test_a_rejection_follows_identical_bytes_into_a_later_batch(where, tmp_path):
    dest, target, opts = where
    src = tmp_path / "src"
    write_samples(src, names=["mug_red", "jar_gold"])
    run(src, dest, "A", opts)
    decide_on(session(dest, opts), "mug_red.jpg", "A", "rejected", note="reflection plate kept under the mug")
    sidecar = src / "mug_red.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "colour": "blue"}))  # a sidecar change
    _, report, _ = run(src, dest, "B", opts)
    assert [i["source"] for i in report["items"]] == ["mug_red.jpg"]  # reprocessed into B ...
    assert composite(dest, "B", "mug_red.jpg", opts) == composite(dest, "A", "mug_red.jpg", opts)  # ... same bytes
    in_b = session(dest, opts, batch="B")
    row = in_b.rows["key:mug_red.jpg"]
    assert row["version"] == f"B/{item_id_for_key('mug_red.jpg')}" and row["state"] == "rejected" and row["carried"]
    assert row["note"].startswith("same image as rejected on 20") and "by alice: reflection plate kept" in row["note"]
    assert in_b.approvable({}) == []
    assert in_b.approve_passed(0, {})["approved"] == []  # "approve all passed" in B: nothing to approve
    everything = session(dest, opts)
    assert everything.approvable({}) == ["key:jar_gold.jpg"]
    everything.approve_passed(1, {})
    result = publish(Bucket(dest, opts), Bucket(target, opts))
    assert [r["key"] for r in result.copied] == ["jar_gold.png"]
    assert not Bucket(target, opts).exists("mug_red.png")  # the rejected image never goes live


def test_a_new_shoot_of_a_rejected_product_waits_for_a_person(where, tmp_path):
    dest, _, opts = where
    src = tmp_path / "src"
    write_samples(src, names=["tote_canvas"])
    run(src, dest, "A", opts)
    decide_on(session(dest, opts), "tote_canvas.jpg", "A", "rejected", note="strap cut off")
    touch_photo(src / "tote_canvas.jpg")
    run(src, dest, "B", opts)
    s = session(dest, opts)
    row = s.rows["key:tote_canvas.jpg"]
    assert (row["outcome"], row["state"], row["rejected_before"], row["approvable"]) == ("pass", "undecided", True,
                                                                                         False)
    assert s.approvable({}) == []
    history = s.product_view("key:tote_canvas.jpg")["history"]
    assert [(h["home"], h["state"]) for h in history] == [("B", "undecided"), ("A", "rejected")]
    assert history[1]["decisions"][0]["note"] == "strap cut off"


def test_withdrawing_from_an_older_batch_leaves_what_a_newer_one_approved(where, tmp_path):
    dest, target, opts = where
    src = tmp_path / "src"
    write_samples(src, names=["box_white"])
    key = "box_white.jpg"
    run(src, dest, "A", opts)
    decide_on(session(dest, opts), key, "A", "approved")
    assert [r["key"] for r in publish(Bucket(dest, opts), Bucket(target, opts), batch="A").copied] == ["box_white.png"]
    touch_photo(src / key)
    run(src, dest, "B", opts)
    decide_on(session(dest, opts), key, "B", "approved")
    publish(Bucket(dest, opts), Bucket(target, opts), batch="B")
    decide_on(session(dest, opts, reviewer="bob"), key, "A", "rejected", note="old shoot")
    result = publish(Bucket(dest, opts), Bucket(target, opts), batch="A", withdraw=True)
    assert not result.withdrawn and not result.needs_attention
    assert live_bytes(target, "box_white.png", opts) == composite(dest, "B", key, opts)
    manifest = json.loads(Bucket(target, opts).read_bytes("_manifests/products.json"))
    assert [(r["product"], r["batch"]) for r in manifest["products"]] == [(f"key:{key}", "B")]


def test_a_newer_approved_version_replaces_the_live_file(where, tmp_path):
    dest, target, opts = where
    src = tmp_path / "src"
    write_samples(src, names=["jar_gold"])
    key = "jar_gold.jpg"
    run(src, dest, "A", opts)
    session(dest, opts).approve_passed(1, {})
    publish(Bucket(dest, opts), Bucket(target, opts), batch="A")
    rethemed = CONFIG.with_overrides({"scene.theme": "marble-counter"})
    run(src, dest, "B", opts, config=rethemed)  # a re-theme: every photo again, other bytes
    assert composite(dest, "B", key, opts) != composite(dest, "A", key, opts)
    in_b = session(dest, opts, batch="B")
    assert in_b.approvable({}) == [f"key:{key}"]
    in_b.approve_passed(1, {})
    result = publish(Bucket(dest, opts), Bucket(target, opts), batch="B")
    assert [r["key"] for r in result.updated] == ["jar_gold.png"] and not result.refused
    assert live_bytes(target, "jar_gold.png", opts) == composite(dest, "B", key, opts)
    again = publish(Bucket(dest, opts), Bucket(target, opts))
    assert len(again.unchanged) == 1 and not again.copied and not again.updated
