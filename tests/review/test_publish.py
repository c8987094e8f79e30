"""publish: each product's newest approved version, exactly the bytes approved, idempotent,
later decisions reported, foreign files named and left alone, every failure per product."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from pipeline.batch import item_id_for_key
from pipeline.catalogue.store import Catalogue
from pipeline.cli import main
from pipeline.io.storage import Bucket
from pipeline.review.publish import publish, target_key
from tests.review.fake_batches import FakeItem, write_fake_batch

MUG, JAR, TOTE, BOX = "mug_red.jpg", "jar_gold.jpg", "tote_canvas.jpg", "box_white.jpg"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decide(dest, key, decision, variant=None, reviewer="alice", home=None):
    cat = Catalogue(Bucket(dest))
    cat.sync()
    product = cat.product(f"key:{key}")
    vid = f"{home}/{item_id_for_key(key)}" if home else max(
        product["versions"].values(), key=lambda v: (v["created_at"], v["id"]))["id"]
    version = product["versions"][vid]
    sha = version["sha256"] if variant is None else version["variants"][variant]["sha256"]
    cat.decide(f"key:{key}", vid, decision, reviewer, variant=variant, seen_sha256=sha)


def files(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_target_keys_keep_the_source_name_with_the_composites_extension():
    assert target_key("shoes/red.jpg") == "shoes/red.png"
    assert target_key("incoming/shoes/red.jpeg", "incoming/") == "shoes/red.png"
    assert target_key("noext", suffix=".webp") == "noext.webp"


def test_only_approved_products_are_copied_and_a_second_run_changes_nothing(review_batch, tmp_path):
    dest = review_batch.parent
    decide(dest, MUG, "approved", variant=0)  # the tinted variant, chosen on purpose
    decide(dest, JAR, "approved")
    decide(dest, TOTE, "rejected")
    decide(dest, BOX, "undecided")
    target = tmp_path / "live"
    first = publish(Bucket(dest), Bucket(target))
    assert sorted(r["key"] for r in first.copied) == ["jar_gold.png", "mug_red.png"]
    assert files(target) == ["_manifests/products.json", "_manifests/rb.json", "jar_gold.png", "mug_red.png"]
    assert (target / "mug_red.png").read_bytes() == (review_batch / item_id_for_key(MUG) / "composite_v0.png").read_bytes()
    manifest = json.loads((target / "_manifests" / "products.json").read_text())
    rows = {r["product"]: r for r in manifest["products"]}
    assert set(rows) == {f"key:{MUG}", f"key:{JAR}"} and rows[f"key:{MUG}"]["variant"] == 0
    assert all(r["sha256"] == _sha(target / r["key"]) and r["version"] == f"rb/{r['item']}" for r in rows.values())
    mtimes = {p: p.stat().st_mtime_ns for p in target.rglob("*") if p.is_file()}
    second = publish(Bucket(dest), Bucket(target))
    assert not second.copied and not second.updated and len(second.unchanged) == 2 and not second.needs_attention
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*") if p.is_file()} == mtimes
    published = json.loads((review_batch / "published.json").read_text())
    assert {r["product"] for r in next(iter(published["targets"].values())).values()} == {f"key:{MUG}", f"key:{JAR}"}


def test_decisions_after_publishing_are_reported_and_acted_on_only_when_asked(review_batch, tmp_path):
    dest, target = review_batch.parent, tmp_path / "live"
    decide(dest, MUG, "approved")
    decide(dest, JAR, "approved")
    publish(Bucket(dest), Bucket(target))
    decide(dest, JAR, "rejected", reviewer="bob")   # changed their mind
    decide(dest, MUG, "approved", variant=0)         # another variant
    result = publish(Bucket(dest), Bucket(target))
    assert [r["product"] for r in result.updated] == [f"key:{MUG}"]
    assert [(r["product"], r["decision"]) for r in result.stale] == [(f"key:{JAR}", "rejected")]
    assert result.needs_attention and (target / "jar_gold.png").exists()  # reported, not silently removed
    assert main(["publish", str(dest), str(target)]) == 3  # the CLI says so too
    withdrawn = publish(Bucket(dest), Bucket(target), withdraw=True)
    assert [r["product"] for r in withdrawn.withdrawn] == [f"key:{JAR}"] and not (target / "jar_gold.png").exists()
    manifest = json.loads((target / "_manifests" / "products.json").read_text())
    assert [r["product"] for r in manifest["products"]] == [f"key:{MUG}"]
    assert main(["publish", str(dest), str(target)]) == 0


def test_a_changed_composite_is_refused_and_a_foreign_file_is_named_and_left_alone(review_batch, tmp_path):
    dest, target = review_batch.parent, tmp_path / "live"
    decide(dest, MUG, "approved")
    decide(dest, JAR, "approved")
    decide(dest, TOTE, "approved")
    (review_batch / item_id_for_key(MUG) / "composite.png").write_bytes(
        (review_batch / item_id_for_key(BOX) / "composite.png").read_bytes())  # as a --reprocess rerun would
    target.mkdir()
    (target / "jar_gold.png").write_bytes(b"someone else's file")
    (target / "tote_canvas.png").write_bytes((review_batch / item_id_for_key(BOX) / "composite.png").read_bytes())
    result = publish(Bucket(dest), Bucket(target))
    reasons = {r["product"]: r["reason"] for r in result.refused}
    assert "changed after it was approved" in reasons[f"key:{MUG}"]
    assert "did not put there (19 bytes, modified 20" in reasons[f"key:{JAR}"]
    assert "nothing in this catalogue made it" in reasons[f"key:{JAR}"] and "--replace-foreign" in reasons[f"key:{JAR}"]
    assert f"of {BOX} (batch rb)" in reasons[f"key:{TOTE}"]  # the catalogue's guess at its origin
    assert not result.copied and (target / "jar_gold.png").read_bytes() == b"someone else's file"
    assert not (target / "mug_red.png").exists()
    forced = publish(Bucket(dest), Bucket(target), replace_foreign=True)
    assert sorted(r["product"] for r in forced.updated) == [f"key:{JAR}", f"key:{TOTE}"]
    assert (target / "jar_gold.png").read_bytes() == (review_batch / item_id_for_key(JAR) / "composite.png").read_bytes()


def test_no_failure_stops_publishing_and_a_rerun_finishes_the_rest(tmp_path):
    dest, target = tmp_path / "out", tmp_path / "live"
    long_name, too_long = "n" * 246 + ".jpg", "t" * 300 + ".jpg"
    keys = ["a.jpg", long_name, too_long, "linked.jpg", "z.jpg"]
    folder = write_fake_batch(dest, "b", [FakeItem(k) for k in keys], "2026-01-01T00:00:00+00:00")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"outside the batch")
    link = folder / item_id_for_key("linked.jpg") / "composite.png"
    link.unlink()
    os.symlink(secret, link)
    for key in keys:
        decide(dest, key, "approved")
    result = publish(Bucket(dest), Bucket(target))
    assert sorted(r["key"] for r in result.copied) == sorted(["a.png", "n" * 246 + ".png", "z.png"])
    refused = {r["product"]: r["reason"] for r in result.refused}
    assert "not a file inside its batch folder" in refused["key:linked.jpg"]
    failed = {r["product"]: r["reason"] for r in result.failed}
    assert list(failed) == [f"key:{too_long}"] and "too long" in failed[f"key:{too_long}"].lower()
    assert secret.read_bytes() == b"outside the batch" and not (target / "linked.png").exists()
    manifest = json.loads((target / "_manifests" / "products.json").read_text())  # always written
    assert len(manifest["products"]) == 3
    link.unlink()
    link.write_bytes(b"")  # fixed by hand: but these are not the approved bytes either
    again = publish(Bucket(dest), Bucket(target))
    assert len(again.unchanged) == 3 and not again.copied and "changed after" in again.refused[0]["reason"]


def test_a_webp_batch_publishes_its_webp_composites_under_a_webp_name(tmp_path):
    from pipeline.batch import run_batch
    from pipeline.config import PipelineConfig
    from pipeline.samples import write_samples

    write_samples(tmp_path / "in", names=["mug_red"])
    config = PipelineConfig().with_overrides({"placement.size": (160, 160), "output.format": "webp"})
    run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="w")
    decide(tmp_path / "out", MUG, "approved")
    result = publish(Bucket(tmp_path / "out"), Bucket(tmp_path / "live"))
    assert [r["key"] for r in result.copied] == ["mug_red.webp"]
    assert (tmp_path / "live" / "mug_red.webp").read_bytes() == \
        (tmp_path / "out" / "w" / item_id_for_key(MUG) / "composite.webp").read_bytes()


def test_publish_cli_refuses_a_folder_that_holds_no_batch(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["publish", str(tmp_path / "empty"), str(tmp_path / "t")]) == 2
    assert "holds no batch" in capsys.readouterr().err


@pytest.mark.parametrize("legacy_target", ["same", "alias"])
def test_what_an_older_per_batch_publish_put_live_is_the_catalogues_own(tmp_path, legacy_target):
    """A batch published before the catalogue (published.json + _manifests/<batch>.json): a newer
    approved version replaces its file, never refused as foreign."""
    dest, target = tmp_path / "out", tmp_path / "live"
    old = write_fake_batch(dest, "old", [FakeItem("cap.jpg")], "2025-12-01T00:00:00+00:00")
    item = item_id_for_key("cap.jpg")
    sha = _sha(old / item / "composite.png")
    target.mkdir()
    (target / "cap.png").write_bytes((old / item / "composite.png").read_bytes())
    name = str(target) if legacy_target == "same" else str(target) + "/"
    (old / "published.json").write_text(json.dumps({"targets": {name: {item: {
        "key": "cap.png", "sha256": sha, "variant": None, "reviewer": "alice", "published_at": "2025-12-02T00:00:00+00:00",
        "source": "cap.jpg"}}}}))
    write_fake_batch(dest, "new", [FakeItem("cap.jpg", look=1)], "2026-01-01T00:00:00+00:00")
    decide(dest, "cap.jpg", "approved", home="new")
    result = publish(Bucket(dest), Bucket(target))
    assert [r["product"] for r in result.updated] == ["key:cap.jpg"] and not result.refused
    assert (target / "cap.png").read_bytes() == (dest / "new" / item / "composite.png").read_bytes()
    assert json.loads((old / "published.json").read_text())["targets"] == {}
    assert item in json.loads((dest / "new" / "published.json").read_text())["targets"][str(target)]
