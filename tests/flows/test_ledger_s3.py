"""The ledger on a real S3 server (SeaweedFS): conditional writes, races, takeover."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

import pytest

from tests.needs import needs

needs("flows")

from pipeline.ledger import DoneRecord, LeaseInfo, Ledger, Owner, hash_object, name_for_key, process_once
from pipeline.io.conditional_store import S3Store
from pipeline.io.storage import Bucket
from tests.flows.checks import item_folders
from tests.flows.conftest import TEST_BUCKET
from tests.flows.test_ledger import CFG, fake_process


@pytest.fixture
def s3_dest(s3) -> Bucket:
    return Bucket(f"s3://{TEST_BUCKET}/ledger-{uuid.uuid4().hex[:8]}", s3.storage_options())


def test_seaweedfs_honours_conditional_writes(s3_dest):
    ledger = Ledger(s3_dest)
    assert isinstance(ledger.store, S3Store) and ledger.atomicity == "conditional"
    store = ledger.store
    v1 = store.create("_ledger/t.json", b"1")
    assert v1 and store.create("_ledger/t.json", b"2") is None
    v2 = store.replace("_ledger/t.json", b"3", v1)
    assert v2 and store.replace("_ledger/t.json", b"4", v1) is None
    assert store.get("_ledger/t.json") == (b"3", v2)
    assert store.delete("_ledger/t.json", v1) is False and store.delete("_ledger/t.json", v2) is True
    assert store.get("_ledger/t.json") is None


def test_create_race_has_one_winner_on_s3(s3_dest):
    ledger = Ledger(s3_dest)
    results, barrier = [], threading.Barrier(8)

    def commit(i: int) -> None:
        lease = ledger.acquire(f"l{i}", f"h{i}")
        barrier.wait()
        done = DoneRecord("item", "c", CFG, "k", f"b{i}", None, "ok", {}, time.time())
        results.append(ledger.commit(lease, done))

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [False] * 7 + [True]


def one_object_source(s3) -> tuple[Bucket, str, str]:
    """A fresh S3 source holding one object: (bucket, key, content hash)."""
    source = Bucket(f"s3://{TEST_BUCKET}/src-{uuid.uuid4().hex[:8]}", s3.storage_options())
    key = "incoming/p.png"
    source.write_bytes(key, b"bytes")
    return source, key, hash_object(source, key)


def test_stale_lease_takeover_and_process_once_on_s3(s3, s3_dest):
    source, key, chash = one_object_source(s3)
    ledger = Ledger(s3_dest)
    name = name_for_key(source, key, CFG)
    other = replace(Owner.current("gone"), node="another-machine")
    now = time.time()
    assert ledger.store.create(ledger.lease_key(name),
                               LeaseInfo(name, other, now - 10, now - 1, "b1/item").to_bytes())
    fake_process(s3_dest, "b1", "item", key, chash, files=("composite.png",))()
    outcome = process_once(ledger, source=source, key=key, dest=s3_dest, batch_id="b2", item_id="item",
                           config_hash=CFG, holder="me", process=fake_process(s3_dest, "b2", "item", key, chash))
    assert outcome.status == "processed"
    assert item_folders(s3_dest) == {"item": 1}
    assert ledger.check() == [] and ledger.leases() == []
