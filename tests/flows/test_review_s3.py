"""Review and publish against a real S3 server (SeaweedFS): the CLI's server over a bucket, the
catalogue's compare-and-swap on S3, publish into a bucket and into a folder."""

from __future__ import annotations

from tests.needs import needs

needs("flows")

import json
import uuid

from pipeline.batch import item_id_for_key
from pipeline.catalogue.store import Catalogue
from pipeline.cli import main
from pipeline.io.storage import Bucket
from tests.flows.conftest import TEST_BUCKET, encode, synthetic_product
from tests.review.server import ReviewServer


def test_review_and_publish_a_destination_in_a_bucket(s3, tmp_path):
    root = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:8]}"
    opts = s3.storage_options()
    source = Bucket(root, opts)
    for i in range(3):
        source.write_bytes(f"incoming/p{i}.png", encode(synthetic_product(i)))
    assert main(["run", f"{root}/incoming", f"{root}/out", "--endpoint-url", s3.endpoint, "--size", "128x128",
                 "--batch-id", "rv", "--no-progress"]) == 0
    ids = [item_id_for_key(f"p{i}.png") for i in range(3)]
    with ReviewServer(f"{root}/out/rv", "--endpoint-url", s3.endpoint, reviewer="carol") as srv:
        views = [json.loads(srv.get(f"/api/product?id=key:p{i}.png")[2])["version"] for i in range(3)]
        for i, decision in ((0, "approved"), (1, "rejected"), (2, "approved")):
            status, _, text = srv.post("/api/decisions", {"product": f"key:p{i}.png", "version": views[i]["id"],
                                                          "decision": decision,
                                                          "composite_sha256": views[i]["composite"]["sha256"]})
            assert status == 200, text
        sha = views[0]["composite"]["sha256"]
        assert srv.get(f"/files/rv/{ids[0]}/composite.png?sha256={sha}")[0] == 200
        assert srv.get("/files/rv/%2e%2e/_ledger/done")[0] in (400, 404)
    out = Bucket(f"{root}/out", opts)
    cat = Catalogue(out)
    assert cat.store.atomicity == "conditional"
    states = {pid: p["decisions"][-1]["decision"] for pid, p in cat.load().items()}
    assert states == {"key:p0.png": "approved", "key:p1.png": "rejected", "key:p2.png": "approved"}
    assert len(out.fs.find(out.path("rv/_decisions"))) == 3  # each decision in the batch's journal

    argv = ["publish", f"{root}/out", f"{root}/live", "--endpoint-url", s3.endpoint]
    assert main(argv) == 0
    live = Bucket(f"{root}/live", opts)
    assert live.list_keys() == ["p0.png", "p2.png"]  # _manifests/ is not a product folder
    manifest = json.loads(live.read_bytes("_manifests/products.json"))
    assert [(r["product"], r["key"]) for r in manifest["products"]] == [("key:p0.png", "p0.png"),
                                                                       ("key:p2.png", "p2.png")]
    assert main(argv) == 0 and live.list_keys() == ["p0.png", "p2.png"]
    assert main(["publish", f"{root}/out/rv", str(tmp_path / "local"), "--endpoint-url", s3.endpoint]) == 0
    assert sorted(p.name for p in (tmp_path / "local").glob("*.png")) == ["p0.png", "p2.png"]
