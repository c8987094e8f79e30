"""publish: only approved composites, exactly the bytes reviewed, idempotent, later decisions reported."""

from __future__ import annotations

import hashlib
import json

from pipeline.batch import item_id_for_key
from pipeline.cli import main
from pipeline.review.decisions import Decision, DecisionStore
from pipeline.review.folder import open_batch_folder
from pipeline.review.publish import publish_batch, target_key
from pipeline.io.storage import Bucket

MUG = item_id_for_key("mug_red.jpg")
JAR = item_id_for_key("jar_gold.jpg")
TOTE = item_id_for_key("tote_canvas.jpg")
BOX = item_id_for_key("box_white.jpg")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _decide(batch, item_id, decision, variant=None, reviewer="alice"):
    name = "composite.png" if variant is None else f"composite_v{variant}.png"
    sha = _sha(batch / item_id / name) if (batch / item_id / name).exists() else None
    DecisionStore(open_batch_folder(str(batch))).record(
        [Decision(item_id, decision, reviewer, variant=variant, composite_sha256=sha)])


def test_target_keys_keep_the_source_name_with_a_png_extension():
    assert target_key("shoes/red.jpg") == "shoes/red.png"
    assert target_key("incoming/shoes/red.jpeg", "incoming/") == "shoes/red.png"
    assert target_key("noext") == "noext.png"


def test_only_approved_items_are_copied_and_a_second_run_copies_nothing(review_batch, tmp_path):
    _decide(review_batch, MUG, "approved", variant=0)  # the tinted variant, chosen on purpose
    _decide(review_batch, JAR, "approved")
    _decide(review_batch, TOTE, "rejected")
    _decide(review_batch, BOX, "undecided")
    target = tmp_path / "live"
    folder = open_batch_folder(str(review_batch))
    first = publish_batch(folder, Bucket(target))
    assert sorted(r["key"] for r in first.copied) == ["jar_gold.png", "mug_red.png"]
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "_manifests/rb.json", "jar_gold.png", "mug_red.png"]
    assert (target / "mug_red.png").read_bytes() == (review_batch / MUG / "composite_v0.png").read_bytes()
    assert (target / "jar_gold.png").read_bytes() == (review_batch / JAR / "composite.png").read_bytes()
    manifest = json.loads((target / "_manifests" / "rb.json").read_text())
    assert {i["item_id"]: i["variant"] for i in manifest["items"]} == {JAR: None, MUG: 0}
    assert all(i["sha256"] == _sha(target / i["key"]) and i["reviewer"] == "alice" for i in manifest["items"])
    mtimes = {p: p.stat().st_mtime_ns for p in target.rglob("*") if p.is_file()}
    second = publish_batch(folder, Bucket(target))
    assert not second.copied and not second.updated and len(second.unchanged) == 2 and not second.needs_attention
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*") if p.is_file()} == mtimes
    published = json.loads((review_batch / "published.json").read_text())
    assert set(published["targets"][str(target)]) == {MUG, JAR}


def test_decisions_after_publishing_are_reported_and_acted_on_only_when_asked(review_batch, tmp_path):
    target = tmp_path / "live"
    folder = open_batch_folder(str(review_batch))
    _decide(review_batch, MUG, "approved")
    _decide(review_batch, JAR, "approved")
    publish_batch(folder, Bucket(target))
    _decide(review_batch, JAR, "rejected", reviewer="bob")   # changed their mind
    _decide(review_batch, MUG, "approved", variant=0)          # another variant
    result = publish_batch(folder, Bucket(target))
    assert [r["item_id"] for r in result.updated] == [MUG]
    assert [(r["item_id"], r["decision"]) for r in result.stale] == [(JAR, "rejected")]
    assert result.needs_attention and (target / "jar_gold.png").exists()  # reported, not silently removed
    assert (target / "mug_red.png").read_bytes() == (review_batch / MUG / "composite_v0.png").read_bytes()
    assert main(["publish", str(review_batch), str(target)]) == 3  # the CLI says so too
    withdrawn = publish_batch(folder, Bucket(target), withdraw=True)
    assert [r["item_id"] for r in withdrawn.withdrawn] == [JAR] and not (target / "jar_gold.png").exists()
    manifest = json.loads((target / "_manifests" / "rb.json").read_text())
    assert [i["item_id"] for i in manifest["items"]] == [MUG]
    assert main(["publish", str(review_batch), str(target)]) == 0


def test_a_composite_changed_after_approval_or_a_foreign_target_file_is_refused(review_batch, tmp_path):
    target = tmp_path / "live"
    folder = open_batch_folder(str(review_batch))
    _decide(review_batch, MUG, "approved")
    _decide(review_batch, JAR, "approved")
    (review_batch / MUG / "composite.png").write_bytes(
        (review_batch / TOTE / "composite.png").read_bytes())  # as a --reprocess rerun would
    target.mkdir()
    (target / "jar_gold.png").write_bytes(b"someone else's file")
    result = publish_batch(folder, Bucket(target))
    reasons = {r["item_id"]: r["reason"] for r in result.refused}
    assert "changed after it was approved" in reasons[MUG]
    assert "not overwritten" in reasons[JAR]
    assert not result.copied and (target / "jar_gold.png").read_bytes() == b"someone else's file"
    assert not (target / "mug_red.png").exists()


def test_publish_cli_refuses_a_folder_that_is_not_a_batch(tmp_path, capsys):
    assert main(["publish", str(tmp_path), str(tmp_path / "t")]) == 2


def test_a_webp_batch_publishes_its_webp_composites_under_a_webp_name(tmp_path):
    from pipeline.batch import run_batch
    from pipeline.config import PipelineConfig
    from pipeline.review.session import ReviewSession
    from pipeline.samples import write_samples

    write_samples(tmp_path / "in", names=["mug_red"])
    config = PipelineConfig().with_overrides({"placement.size": (160, 160), "output.format": "webp"})
    run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="w")
    session = ReviewSession(open_batch_folder(str(tmp_path / "out" / "w")), "alice")
    view = session.item_view(MUG)
    assert view["composite"]["file"] == f"{MUG}/composite.webp"
    session.decide(MUG, "approved", seen_sha256=view["composite"]["sha256"])
    result = publish_batch(session.folder, Bucket(tmp_path / "live"))
    assert [r["key"] for r in result.copied] == ["mug_red.webp"]
    assert (tmp_path / "live" / "mug_red.webp").read_bytes() == (tmp_path / "out" / "w" / MUG / "composite.webp").read_bytes()
