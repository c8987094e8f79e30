"""Decisions in report.json/report.html, a rerun that keeps them, the ledger's link; review pictures."""

from __future__ import annotations

import json

import numpy as np

from pipeline.batch import item_id_for_key, run_batch
from pipeline.catalogue.store import Catalogue
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.ledger.ledger import Ledger
from pipeline.report.html import embed_decisions
from pipeline.review.views import delta_e_heatmap, delta_e_map, mask_edge_overlay, to_frame
from pipeline.samples import write_samples

MUG = item_id_for_key("mug_red.jpg")


def test_a_rerun_keeps_decisions_and_its_reports_show_them(tmp_path):
    write_samples(tmp_path / "in", names=["mug_red", "jar_gold"])
    config = PipelineConfig().with_overrides({"placement.size": (160, 160)})
    run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="b", skip_done=True)
    cat = Catalogue(Bucket(tmp_path / "out"))
    cat.sync()
    version = cat.product("key:mug_red.jpg")["versions"][f"b/{MUG}"]
    cat.decide("key:mug_red.jpg", version["id"], "rejected", "alice", note="<script>x</script>",
               seen_sha256=version["sha256"])
    journal = sorted((tmp_path / "out" / "b" / "_decisions").rglob("*.json"))
    before = [p.read_bytes() for p in journal]
    ledger = Ledger(Bucket(tmp_path / "out"))  # the ledger's done record links to where the decision went
    links = {r.output_prefix: r.decisions for r in map(ledger.get_done, ledger.done_names())}
    assert journal and all(p.relative_to(tmp_path / "out").as_posix().startswith(links[f"b/{MUG}"]) for p in journal)
    # --reprocess into the same batch: outputs and reports are rewritten, the decision journal is not.
    run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="b")
    assert [p.read_bytes() for p in sorted((tmp_path / "out" / "b" / "_decisions").rglob("*.json"))] == before
    report = json.loads((tmp_path / "out" / "b" / "report.json").read_text())
    assert report["decisions"]["items"][MUG]["decision"] == "rejected"
    assert report["decisions"]["counts"] == {"approved": 0, "rejected": 1, "undecided": 1}
    html = (tmp_path / "out" / "b" / "report.html").read_text()
    assert "\\u003cscript\\u003ex\\u003c/script\\u003e" in html and "<script>x</script>" not in html


def test_embed_decisions_replaces_only_its_block_and_ignores_old_pages():
    page = '<p>a</p><script type="application/json" id="review-decisions">{}</script><p>b</p>'
    out = embed_decisions(page, {"items": {"x": {"note": "</script><img src=x>"}}})
    assert out.startswith("<p>a</p>") and out.endswith("<p>b</p>") and "</script><img" not in out
    assert embed_decisions("<p>old report</p>", {}) is None


def test_to_frame_places_an_image_by_the_placement_matrix():
    img = np.zeros((40, 60), np.uint8)
    img[10:20, 30:40] = 255
    out = to_frame(img, [[0.5, 0, 5], [0, 0.5, 7]], (50, 50))
    ys, xs = np.nonzero(out > 127)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (12, 16, 20, 24)


def test_mask_edges_and_heat_map():
    mask = np.zeros((30, 30), bool)
    mask[5:25, 5:25] = True
    edges = mask_edge_overlay(mask, width_px=2)
    assert edges[5, 10, 3] == 255 and edges[15, 15, 3] == 0 and edges[2, 2, 3] == 0
    a = np.full((30, 30, 3), 120, np.uint8)
    b = a.copy()
    b[10:15, 10:15] = (200, 60, 60)
    de = delta_e_map(b, a, mask)
    assert de[12, 12] > 10 and de[20, 20] == 0
    heat = delta_e_heatmap(de)
    assert tuple(heat[12, 12]) == (255, 0, 0, 200) and heat[20, 20, 3] == 0
