"""S3Store on a real S3 server (SeaweedFS) with injected faults: a transient error during the
conditional-write probe, and a conditional PUT that botocore retries after its reply was lost."""

from __future__ import annotations

import uuid

import pytest

from tests.needs import needs

needs("flows")

from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger, name_for_key, process_once
from pipeline.io import conditional_store as ledger_store
from pipeline.io.conditional_store import S3Store
from tests.flows.checks import item_folders
from tests.flows.conftest import TEST_BUCKET
from tests.flows.test_ledger import CFG, fake_process
from tests.flows.test_ledger_s3 import one_object_source


@pytest.fixture
def s3_dest(s3) -> Bucket:
    return Bucket(f"s3://{TEST_BUCKET}/store-{uuid.uuid4().hex[:8]}", s3.storage_options())


@pytest.fixture
def fresh_probe_cache(monkeypatch):
    """Forget what earlier tests learnt about this server (the cache lives for the process)."""
    monkeypatch.setattr(ledger_store, "_probe_cache", {})
    monkeypatch.setattr(ledger_store, "PROBE_BACKOFF_S", 0.01)
    return ledger_store._probe_cache


def slow_down_error() -> OSError:
    """What s3fs raises for a throttled request once botocore gave up (SlowDown, HTTP 503)."""
    from botocore.exceptions import ClientError
    from s3fs.errors import translate_boto_error

    return translate_boto_error(ClientError(
        {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
         "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"))


def throttle_conditional_puts(monkeypatch, fs, times: int) -> list[str]:
    """The next ``times`` conditional PUTs through ``fs`` fail with SlowDown; returns the keys hit."""
    real = fs.call_s3
    hits: list[str] = []

    def call_s3(method, *args, **kwargs):
        if method == "put_object" and "IfNoneMatch" in kwargs and len(hits) < times:
            hits.append(kwargs["Key"])
            raise slow_down_error()
        return real(method, *args, **kwargs)

    monkeypatch.setattr(fs, "call_s3", call_s3)
    return hits


def test_one_transient_error_during_the_probe_is_retried(s3_dest, fresh_probe_cache, monkeypatch):
    hits = throttle_conditional_puts(monkeypatch, s3_dest.fs, times=1)
    store = S3Store(s3_dest)
    assert store.probe() is True
    assert len(hits) == 1
    assert list(fresh_probe_cache.values()) == [True]
    assert Ledger(s3_dest).atomicity == "conditional"


def test_a_probe_that_keeps_failing_raises_and_is_not_cached(s3_dest, fresh_probe_cache, monkeypatch):
    hits = throttle_conditional_puts(monkeypatch, s3_dest.fs, times=ledger_store.PROBE_ATTEMPTS)
    store = S3Store(s3_dest)
    with pytest.raises(OSError) as caught:
        store.probe()
    assert ledger_store.is_transient_error(caught.value)  # the flow's tasks retry it
    assert len(hits) == ledger_store.PROBE_ATTEMPTS and fresh_probe_cache == {}
    assert store.probe() is True  # the throttling is over: the next probe answers for good


def retry_once_after_success(client, operation: str, key_prefix: str) -> list[str]:
    """Make botocore retry the first successful ``operation`` on a key under ``key_prefix``, as
    it does when the reply to a stored request is lost: the retry is the same request again."""
    retried: list[str] = []

    def needs_retry(request_dict=None, response=None, attempts=1, **_):
        url = (request_dict or {}).get("url", "")
        if (not retried and attempts == 1 and response is not None and response[0].status_code == 200
                and key_prefix in url):
            retried.append(url)
            return 0  # retry now
        return None

    client.meta.events.register(f"needs-retry.s3.{operation}", needs_retry, unique_id="lost-reply")
    return retried


def test_a_commit_whose_reply_was_lost_is_not_reported_lost(s3, s3_dest):
    source, key, chash = one_object_source(s3)
    ledger = Ledger(s3_dest)
    client = s3_dest.fs.s3
    retried = retry_once_after_success(client, "PutObject", "/_ledger/done/")
    try:
        outcome = process_once(ledger, source=source, key=key, dest=s3_dest, batch_id="b1", item_id="item",
                               config_hash=CFG, holder="me", process=fake_process(s3_dest, "b1", "item", key, chash))
    finally:
        client.meta.events.unregister("needs-retry.s3.PutObject", unique_id="lost-reply")
    assert len(retried) == 1  # the commit's PUT really was sent twice
    assert outcome.status == "processed", outcome
    assert item_folders(s3_dest) == {"item": 1}  # its outputs were kept
    assert ledger.get_done(name_for_key(source, key, CFG)).batch_id == "b1"
    assert ledger.check() == [] and ledger.leases() == []


def test_a_foreign_object_still_fails_the_precondition(s3_dest):
    store = Ledger(s3_dest).store
    assert store.create("_ledger/x.json", b"theirs")
    assert store.create("_ledger/x.json", b"mine") is None
    version = store.get("_ledger/x.json")[1]
    assert store.replace("_ledger/x.json", b"mine", "0" * 32) is None
    assert store.get("_ledger/x.json") == (b"theirs", version)
