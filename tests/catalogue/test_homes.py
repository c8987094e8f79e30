"""A batch folder as the pipeline writes it, read into the catalogue: the sidecar's SKU names
the product, meta.json carries each composite's sha256, a bad SKU is that item's error row."""

from __future__ import annotations

import hashlib
import json
import shutil

from pipeline.batch import item_id_for_key, run_batch
from pipeline.catalogue.homes import home_stamp, read_many
from pipeline.catalogue.store import Catalogue
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.samples import write_samples


def test_the_sidecars_sku_names_the_product_and_a_bad_one_is_the_items_error(tmp_path):
    src = tmp_path / "in"
    write_samples(src, names=["mug_red", "jar_gold"])
    sidecar = json.loads((src / "mug_red.json").read_text())
    (src / "mug_red.json").write_text(json.dumps({**sidecar, "sku": " MUG-R1 "}))
    shutil.copy(src / "jar_gold.jpg", src / "jar_bad.jpg")
    (src / "jar_bad.json").write_text(json.dumps({"sku": ["not", "text"]}))
    _, report, _ = run_batch(str(src), str(tmp_path / "out"), PipelineConfig().with_overrides(
        {"placement.size": (96, 96)}), batch_id="b")
    rows = {i["source"]: i for i in report["items"]}
    assert rows["jar_bad.jpg"]["status"] == "error" and "sidecar field 'sku'" in rows["jar_bad.jpg"]["error"]
    meta = json.loads((tmp_path / "out" / "b" / item_id_for_key("mug_red.jpg") / "meta.json").read_text())
    composite = tmp_path / "out" / "b" / item_id_for_key("mug_red.jpg") / "composite.png"
    assert meta["sku"] == "MUG-R1"
    assert meta["composite_sha256"] == {"composite.png": hashlib.sha256(composite.read_bytes()).hexdigest()}
    cat = Catalogue(Bucket(tmp_path / "out"))
    cat.sync()
    products = cat.load()
    assert set(products) == {"sku:MUG-R1", "key:jar_gold.jpg", "key:jar_bad.jpg"}
    mug = next(iter(products["sku:MUG-R1"]["versions"].values()))
    assert mug["source"] == "mug_red.jpg" and mug["sha256"] == meta["composite_sha256"]["composite.png"]
    assert next(iter(products["key:jar_bad.jpg"]["versions"].values()))["outcome"] == "error"


def test_reads_never_wait_on_a_fifo_or_follow_a_link_out(tmp_path):
    import os

    (tmp_path / "b").mkdir()
    os.mkfifo(tmp_path / "b" / "meta.json")
    (tmp_path / "outside.json").write_text("{}")
    os.symlink(tmp_path / "outside.json", tmp_path / "b" / "link.json")
    (tmp_path / "b" / "big.json").write_bytes(b"x" * 2048)
    (tmp_path / "b" / "ok.json").write_bytes(b"{}")
    dest = Bucket(tmp_path / "b")
    got = read_many(dest, ["meta.json", "big.json", "ok.json", "missing.json"], max_bytes=1024)
    assert got == {"meta.json": None, "big.json": None, "ok.json": b"{}", "missing.json": None}
    assert read_many(dest, ["link.json"], 1024) == {"link.json": None}  # a link out of DEST
    assert home_stamp(Bucket(tmp_path), "b") is None  # no report.json: not a batch (yet)
