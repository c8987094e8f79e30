"""The flow against a real S3 server (SeaweedFS): outputs, ledger and reports in the bucket,
and no credential anywhere a person can read (artifacts, reports, ledger, logs, parameters)."""

from __future__ import annotations

import pytest

from tests.needs import needs

needs("flows")

import json
import logging
import uuid

from flows.params import BatchOptions, StorageParams
from flows.process_bucket import process_bucket
from pipeline.ledger import Ledger
from pipeline.io.storage import Bucket
from tests.flows.checks import assert_exactly_once, flow_run_artifacts, flow_run_logs
from tests.flows.conftest import TEST_BUCKET, encode, synthetic_product


def upload_images(bucket: Bucket, count: int, start: int = 0) -> list[str]:
    keys = []
    for i in range(start, start + count):
        key = f"incoming/product_{i:03d}.png"
        bucket.write_bytes(key, encode(synthetic_product(i)))
        keys.append(key)
    return keys


def test_s3_batch_without_credential_leaks(prefect_server, s3, small_config, caplog):
    from prefect.client.orchestration import get_client

    root = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:8]}"
    source, dest = Bucket(f"{root}/src", s3.storage_options()), Bucket(f"{root}/dest", s3.storage_options())
    keys = upload_images(source, 3)
    source.write_bytes("incoming/broken.png", b"\x89PNG\r\n\x1a\n not really")
    options = BatchOptions(storage=StorageParams(endpoint_url=s3.endpoint))
    caplog.set_level(logging.INFO)
    state = process_bucket(f"{root}/src", f"{root}/dest", config=small_config, options=options, return_state=True)
    summary, run_id = state.result(), state.state_details.flow_run_id
    assert summary["processed"] == 4 and summary["error"] == 1
    assert summary["reports"]["html"].startswith("s3://")
    assert_exactly_once(dest, keys, error_keys=("incoming/broken.png",))

    texts = [caplog.text, json.dumps(summary)]
    texts += [a.data if isinstance(a.data, str) else json.dumps(a.data) for a in flow_run_artifacts(run_id)]
    texts += flow_run_logs(run_id)
    texts += [dest.read_bytes(k).decode() for k in dest.list_keys() if k.endswith((".json", ".csv", ".html"))]
    ledger = Ledger(dest)
    texts += [ledger.store.get(k)[0].decode() for k in ledger.store.list("_ledger/") if k.endswith(".json")]
    with get_client(sync_client=True) as client:
        texts.append(json.dumps(client.read_flow_run(run_id).parameters, default=str))
    blob = "\n".join(texts)
    assert len(texts) > 10 and "broken.png" in blob
    assert s3.secret_key not in blob and s3.access_key not in blob
