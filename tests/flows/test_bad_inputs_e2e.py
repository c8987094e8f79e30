"""The whole bad-input corpus (tests/fixtures/bad_inputs.py: SOURCE_ENTRIES) end to end, through the
CLI and through the flow (a real Prefect server; SeaweedFS and a local folder). For every key:
exactly one row or one ignored entry (sidecars are part of their photo's row), with the expected
status and reason; exit 0; inputs unchanged; a rerun processes nothing."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.needs import needs

needs("flows")

from flows.params import BatchOptions, StorageParams
from flows.process_bucket import process_bucket
from pipeline.cli import main
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger
from tests.fixtures.bad_inputs import check_accounted, snapshot, upload_source_corpus, write_source_corpus
from tests.flows.conftest import TEST_BUCKET

pytestmark = pytest.mark.integration
SIZE = 128


@pytest.fixture
def small(small_config):
    return small_config.with_overrides({"placement.long_side": SIZE})


def test_corpus_through_the_cli(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    entries = write_source_corpus(src)
    before = snapshot(src)
    argv = ["run", str(src), str(out), "--no-progress", "--workers", "1", "--size", f"{SIZE}x{SIZE}"]
    assert main([*argv, "--batch-id", "corpus"]) == 0
    report = json.loads((out / "corpus" / "report.json").read_text())
    assert check_accounted(entries, report) == []
    assert snapshot(src) == before
    assert Ledger(Bucket(out)).check() == []
    capsys.readouterr()
    assert main([*argv, "--batch-id", "again"]) == 0
    assert not (out / "again").exists() and capsys.readouterr().out == ""  # nothing new: no batch
    assert snapshot(src) == before


def test_corpus_through_the_flow_on_a_local_folder(prefect_server, tmp_path, small):
    src, dest = tmp_path / "src", tmp_path / "dest"
    entries = write_source_corpus(src)
    before = snapshot(src)
    summary = process_bucket(str(src), str(dest), config=small, options=BatchOptions(prefix=""))
    report = json.loads((dest / summary["batch_id"] / "report.json").read_text())
    assert check_accounted(entries, report) == []
    assert summary["storage_failures"] == 0 and snapshot(src) == before
    again = process_bucket(str(src), str(dest), config=small, options=BatchOptions(prefix=""))
    assert again["processed"] == 0 and again["skipped_done"] == summary["processed"]
    assert snapshot(src) == before


def test_corpus_through_the_flow_on_s3(prefect_server, s3, small):
    root = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:8]}"
    source, dest = Bucket(f"{root}/src", s3.storage_options()), Bucket(f"{root}/dest", s3.storage_options())
    entries = upload_source_corpus(source)
    before = {key: source.read_bytes(key) for key in source.list_entries()}
    options = BatchOptions(prefix="", storage=StorageParams(endpoint_url=s3.endpoint))
    summary = process_bucket(f"{root}/src", f"{root}/dest", config=small, options=options)
    report = json.loads(dest.read_bytes(f"{summary['batch_id']}/report.json"))
    assert check_accounted(entries, report) == []
    assert summary["storage_failures"] == 0
    again = process_bucket(f"{root}/src", f"{root}/dest", config=small, options=options)
    assert again["processed"] == 0 and again["skipped_done"] == summary["processed"]
    assert {key: source.read_bytes(key) for key in source.list_entries()} == before
