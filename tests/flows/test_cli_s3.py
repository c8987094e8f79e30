"""The plain CLI (no Prefect) against a real S3 server: photos in a bucket, outputs in a folder."""

from __future__ import annotations

import pytest

from tests.needs import needs

needs("flows")

import json
import uuid

from pipeline.batch import item_id_for_key
from pipeline.cli import main
from pipeline.io.storage import Bucket
from tests.flows.conftest import TEST_BUCKET, encode, synthetic_product


def test_cli_reads_a_bucket_and_writes_a_folder(s3, tmp_path, capsys, monkeypatch):
    root = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:8]}"
    source = Bucket(root, s3.storage_options())
    for i in range(2):
        source.write_bytes(f"incoming/p{i}.png", encode(synthetic_product(i)))
    argv = ["run", f"{root}/incoming", str(tmp_path / "out"), "--endpoint-url", s3.endpoint,
            "--size", "128x128", "--no-progress"]
    assert main([*argv, "--batch-id", "s3"]) == 0
    report = json.loads((tmp_path / "out" / "s3" / "report.json").read_text())
    assert report["summary"]["total"] == 2 and report["summary"]["errors"] == 0
    assert (tmp_path / "out" / "s3" / item_id_for_key("p0.png") / "composite.png").is_file()
    assert s3.secret_key not in (tmp_path / "out" / "s3" / "report.html").read_text()
    # A rerun with the same config finds both photos done in the ledger and processes nothing;
    # a different config (output size) is new work.
    def no_photo_reads(*args, **kwargs):
        raise AssertionError("a rerun with nothing new must not GET a photo")

    with monkeypatch.context() as patch:
        patch.setattr(Bucket, "open_read", no_photo_reads)
        assert main([*argv, "--batch-id", "s3-again"]) == 0
    assert not (tmp_path / "out" / "s3-again").exists()  # nothing new: no empty batch is written
    assert main([*argv[:-3], "--size", "192x192", "--batch-id", "s3-bigger", "--no-progress"]) == 0
    bigger = json.loads((tmp_path / "out" / "s3-bigger" / "report.json").read_text())
    assert bigger["summary"]["total"] == 2
