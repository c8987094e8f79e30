"""Review and publish against a real S3 server (SeaweedFS): decisions by compare-and-swap on S3."""

from __future__ import annotations

import pytest

from tests.needs import needs

needs("flows")

import json
import threading
import uuid

from pipeline.batch import item_id_for_key
from pipeline.cli import main
from pipeline.review.decisions import Decision, DecisionStore
from pipeline.review.folder import open_batch_folder
from pipeline.io.storage import Bucket
from tests.flows.conftest import TEST_BUCKET, encode, synthetic_product
from tests.review.server import ReviewServer


def test_review_and_publish_a_batch_in_a_bucket(s3, tmp_path):
    root = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:8]}"
    opts = s3.storage_options()
    source = Bucket(root, opts)
    for i in range(3):
        source.write_bytes(f"incoming/p{i}.png", encode(synthetic_product(i)))
    assert main(["run", f"{root}/incoming", f"{root}/out", "--endpoint-url", s3.endpoint, "--size", "128x128",
                 "--batch-id", "rv", "--no-progress"]) == 0
    batch_url = f"{root}/out/rv"
    ids = [item_id_for_key(f"p{i}.png") for i in range(3)]
    with ReviewServer(batch_url, "--endpoint-url", s3.endpoint, reviewer="carol") as srv:
        items = [json.loads(srv.get(f"/api/items/{ids[i]}")[2]) for i in range(3)]
        for i, decision in ((0, "approved"), (1, "rejected"), (2, "approved")):
            status, _, text = srv.post("/api/decisions", {"item_id": ids[i], "decision": decision,
                                                          "composite_sha256": items[i]["composite"]["sha256"]})
            assert status == 200, text
        sha = items[0]["composite"]["sha256"]
        assert srv.get(f"/files/{ids[0]}/composite.png?sha256={sha}")[0] == 200
        assert srv.get("/files/%2e%2e/_ledger/done")[0] == 400
    out = Bucket(f"{root}/out", opts)
    doc = json.loads(out.read_bytes("rv/decisions.json"))
    assert {k: v["decision"] for k, v in doc["items"].items()} == {ids[0]: "approved", ids[1]: "rejected",
                                                                    ids[2]: "approved"}
    assert json.loads(out.read_bytes("rv/report.json"))["decisions"]["counts"]["approved"] == 2

    # Two writers at once on S3 (If-Match compare-and-swap): nobody's decision is lost.
    folder = open_batch_folder(batch_url, {"endpoint_url": s3.endpoint})
    assert folder.store.atomicity == "conditional"

    def writer(w):
        store = DecisionStore(open_batch_folder(batch_url, {"endpoint_url": s3.endpoint}))
        for i in range(5):
            store.record([Decision(f"extra-{w}-{i}", "rejected", f"w{w}")])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(DecisionStore(folder).load()["items"]) == 3 + 15

    argv = ["publish", batch_url, f"{root}/live", "--endpoint-url", s3.endpoint]
    assert main(argv) == 0
    live = Bucket(f"{root}/live", opts)
    assert live.list_keys() == ["p0.png", "p2.png"]  # _manifests/ is not a product folder
    assert json.loads(live.read_bytes("_manifests/rv.json"))["items"][0]["key"] == "p0.png"
    assert main(argv) == 0 and live.list_keys() == ["p0.png", "p2.png"]
    assert main(["publish", batch_url, str(tmp_path / "local"), "--endpoint-url", s3.endpoint]) == 0
    assert sorted(p.name for p in (tmp_path / "local").glob("*.png")) == ["p0.png", "p2.png"]
