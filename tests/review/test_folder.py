"""What review and publish are given: DEST or DEST/<batch_id>, and what is neither."""

from __future__ import annotations

import pytest

from pipeline.review.folder import NotABatchError, open_batch_folder, open_destination, review_command, split_batch_url
from tests.review.fake_batches import FakeItem, write_fake_batch


def test_open_batch_folder_refuses_what_is_not_a_batch(tmp_path):
    (tmp_path / "out" / "b1").mkdir(parents=True)
    with pytest.raises(NotABatchError, match="no report.json"):
        open_batch_folder(str(tmp_path / "out" / "b1"))
    with pytest.raises(NotABatchError, match="not a folder"):
        open_batch_folder(str(tmp_path / "out" / "missing"))
    with pytest.raises(NotABatchError, match="_ or ."):
        open_batch_folder(str(tmp_path / "out" / "_ledger"))
    assert split_batch_url("s3://shop/out/b1/") == ("s3://shop/out", "b1")
    assert split_batch_url("b1") == (".", "b1")
    with pytest.raises(NotABatchError):
        split_batch_url("s3://shop")


def test_dest_and_dest_batch_are_told_apart(tmp_path):
    write_fake_batch(tmp_path / "out", "b1", [FakeItem("a.jpg")], "2026-01-01T00:00:00+00:00")
    dest, batch = open_destination(str(tmp_path / "out"))
    assert batch is None and dest.root.endswith("/out")
    dest, batch = open_destination(str(tmp_path / "out" / "b1") + "/")
    assert batch == "b1" and dest.root.endswith("/out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotABatchError, match="holds no batch"):
        open_destination(str(tmp_path / "empty"))
    with pytest.raises(NotABatchError, match="not a folder"):
        open_destination(str(tmp_path / "missing"))
    assert review_command("s3://shop/out", "http://h:8333") == \
        "product-scene review s3://shop/out --endpoint-url http://h:8333"
    assert review_command("my out/") == "product-scene review 'my out/'"
    assert review_command("out", source_url="my photos/") == "product-scene review out --source 'my photos/'"


def test_run_ends_with_the_review_command_to_use_next(tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.samples import write_samples

    write_samples(tmp_path / "in", names=["jar_gold"])
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--size", "96x96", "--no-progress"]) == 0
    err = "".join(capsys.readouterr().err.split())  # the log wraps long lines
    assert f"next:product-scenereview{tmp_path / 'out'}--source{tmp_path / 'in'}" in err  # so cut-outs can be fixed
