"""The ledger on a local folder (and memory://): leases, commits, crash points, recovery."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import ImageDecodeError, UnsafeKeyError
from pipeline.ledger import (
    DoneRecord,
    LeaseInfo,
    Ledger,
    Owner,
    TransientItemError,
    hash_object,
    move_input,
    name_for_key,
    process_once,
)
from pipeline.io.conditional_store import LocalStore, ReadBackStore
from pipeline.io.transient import is_transient_error
from pipeline.io.storage import Bucket
from pipeline.types import ItemRecord
from tests.flows.checks import item_folders
from tests.needs import needs

FILES = ("composite.png", "mask.png", "canny.png", "depth.png", "meta.json")
CFG = "cfg0123456789abc"


def fake_process(dest: Bucket, batch_id: str, item_id: str, key: str, chash: str, files=FILES, calls=None):
    """A stand-in for BatchRunner.process_key: writes the five outputs, returns an ok record."""
    def run() -> ItemRecord:
        if calls is not None:
            calls.append(key)
        outs = {f.split(".")[0]: dest.write_bytes(f"{batch_id}/{item_id}/{f}", b"x") for f in files}
        return ItemRecord(id=item_id, source=key, status="ok", verdict="pass", outputs=outs, content_hash=chash)
    return run


def setup_source(tmp_path: Path, n: int = 1) -> tuple[Bucket, Bucket, list[str]]:
    src = tmp_path / "src"
    keys = []
    for i in range(n):
        (src / "incoming").mkdir(parents=True, exist_ok=True)
        (src / "incoming" / f"p{i}.png").write_bytes(f"image-{i}".encode())
        keys.append(f"incoming/p{i}.png")
    return Bucket(src), Bucket(tmp_path / "dest"), keys


def run_once(ledger, source, dest, key, batch, holder="h", calls=None, process=None):
    chash = hash_object(source, key)
    item_id = key.replace("/", "__")
    return process_once(ledger, source=source, key=key, dest=dest, batch_id=batch, item_id=item_id,
                        config_hash=CFG, holder=holder,
                        process=process or fake_process(dest, batch, item_id, key, chash, calls=calls))


def dead_owner(holder: str = "dead") -> Owner:
    """An owner on this node whose process 'is gone' (same PID, different start time)."""
    me = Owner.current(holder)
    return replace(me, pid_start=(me.pid_start or 0) + 12345)


def plant_lease(ledger: Ledger, name: str, owner: Owner, output_prefix: str | None, expires_in: float = 300):
    now = time.time()
    info = LeaseInfo(name, owner, now, now + expires_in, output_prefix, output_prefix and output_prefix.split("/")[0])
    assert ledger.store.create(ledger.lease_key(name), info.to_bytes())


def test_local_store_is_lock_based(tmp_path):
    ledger = Ledger(Bucket(tmp_path))
    assert isinstance(ledger.store, LocalStore) and ledger.atomicity == "local-lock"


@pytest.mark.parametrize("ttl,heartbeat", [(0, None), (-1, None), (10, 10), (10, 0)])
def test_bad_lease_timing_is_rejected(tmp_path, ttl, heartbeat):
    with pytest.raises(ValueError, match="lease_ttl_s|heartbeat_s"):
        Ledger(Bucket(tmp_path), lease_ttl_s=ttl, heartbeat_s=heartbeat)


def test_only_one_of_many_threads_gets_a_lease(tmp_path):
    ledger = Ledger(Bucket(tmp_path))
    winners, barrier = [], threading.Barrier(12)

    def contend(i: int) -> None:
        barrier.wait()
        if ledger.acquire("item", f"holder-{i}", output_prefix=f"b{i}/x"):
            winners.append(i)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(winners) == 1


def test_only_one_commit_wins(tmp_path):
    ledger = Ledger(Bucket(tmp_path))
    results, barrier = [], threading.Barrier(10)

    def commit(i: int) -> None:
        lease = ledger.acquire(f"l{i}", f"h{i}")
        barrier.wait()
        done = DoneRecord("item", "c", CFG, "k", f"b{i}", f"b{i}/x", "ok", {}, time.time())
        results.append(ledger.commit(lease, done))

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [False] * 9 + [True]
    assert ledger.done_names() == {"item"}


def test_same_holder_retakes_its_lease_and_others_wait(tmp_path):
    ledger = Ledger(Bucket(tmp_path))
    first = ledger.acquire("x", "task-run-1", output_prefix="b/x")
    assert first is not None
    assert ledger.acquire("x", "task-run-2") is None
    again = ledger.acquire("x", "task-run-1", output_prefix="b/x")
    assert again is not None and again.previous is None and again.orphans == ()


def test_expired_lease_is_taken_over_with_its_orphans(tmp_path):
    ledger = Ledger(Bucket(tmp_path), lease_ttl_s=300)
    other = replace(Owner.current("slow"), node="another-machine")
    plant_lease(ledger, "x", other, "b1/x", expires_in=-1)
    lease = ledger.acquire("x", "fresh", output_prefix="b2/x")
    assert lease is not None and lease.previous.owner.holder == "slow"
    assert lease.orphans == ("b1/x",)


def test_live_lease_on_another_machine_is_respected(tmp_path):
    ledger = Ledger(Bucket(tmp_path))
    plant_lease(ledger, "x", replace(Owner.current("busy"), node="another-machine"), "b1/x")
    assert ledger.acquire("x", "me") is None


def test_dead_local_owner_is_taken_over_at_once(tmp_path):
    ledger = Ledger(Bucket(tmp_path), lease_ttl_s=3600)
    plant_lease(ledger, "x", dead_owner(), "b1/x")
    assert dead_owner().alive() is False and Owner.current("me").alive() is True
    assert ledger.acquire("x", "me", output_prefix="b2/x") is not None


def test_heartbeat_keeps_a_lease_alive_and_renew_detects_takeover(tmp_path):
    ledger = Ledger(Bucket(tmp_path), lease_ttl_s=1.2, heartbeat_s=0.2)
    lease = ledger.acquire("x", "me")
    time.sleep(1.8)
    assert ledger.acquire("x", "rival") is None  # renewed, not expired
    # someone rewrites the lease behind our back: the next renewal notices
    current, version = ledger.store.get(ledger.lease_key("x"))
    stolen = replace(LeaseInfo.from_bytes(current), owner=Owner.current("thief"))
    assert ledger.store.replace(ledger.lease_key("x"), stolen.to_bytes(), version)
    assert lease.renew() is False and lease.lost
    ledger.close()


def test_process_once_commits_then_skips(tmp_path):
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)
    calls = []
    first = run_once(ledger, source, dest, key, "b1", calls=calls)
    second = run_once(ledger, source, dest, key, "b2", calls=calls)
    assert (first.status, second.status) == ("processed", "done")
    assert calls == [key]
    assert ledger.check() == [] and ledger.leases() == []
    done = ledger.get_done(name_for_key(source, key, CFG))
    assert done.output_prefix == "b1/incoming__p0.png" and done.status == "ok"


def test_every_key_is_its_own_item_and_a_new_sidecar_makes_it_new(tmp_path):
    """The same bytes under two keys are two items (each gets its output); editing a key's
    sidecar makes that key new, the other key stays done."""
    source, dest, (key,) = setup_source(tmp_path)
    source.write_bytes("incoming/copy.png", b"image-0")
    ledger = Ledger(dest)
    assert run_once(ledger, source, dest, key, "b1").status == "processed"
    assert run_once(ledger, source, dest, "incoming/copy.png", "b1").status == "processed"
    assert run_once(ledger, source, dest, key, "b2").status == "done"
    source.write_text("incoming/copy.json", '{"logo_boxes": [[1, 1, 5, 5]]}')
    assert run_once(ledger, source, dest, "incoming/copy.png", "b2").status == "processed"
    assert run_once(ledger, source, dest, key, "b3").status == "done"


@pytest.mark.parametrize("crash_at", ["before-outputs", "partial-outputs", "before-commit", "before-release"])
def test_rerun_after_a_crash_leaves_exactly_one_output_folder(tmp_path, crash_at):
    """Simulate kill -9 at each point of an attempt (its lease stays, held by a dead process)."""
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)
    chash = hash_object(source, key)
    name, item_id = name_for_key(source, key, CFG), "incoming__p0.png"
    plant_lease(ledger, name, dead_owner(), f"b1/{item_id}")
    if crash_at != "before-outputs":
        files = FILES[:1] if crash_at == "partial-outputs" else FILES
        record = fake_process(dest, "b1", item_id, key, chash, files=files)()
    if crash_at == "before-release":
        ledger.add_to_batch("b1", name, record)
        ledger.store.create(ledger.done_key(name), DoneRecord(
            name, chash, CFG, key, "b1", f"b1/{item_id}", "ok", record.as_json(), time.time()).to_bytes())
    outcome = run_once(ledger, source, dest, key, "b2", holder="rerun")
    assert outcome.status == ("done" if crash_at == "before-release" else "processed")
    ledger.sweep()
    assert ledger.check() == []
    assert item_folders(dest) == {item_id: 1}
    assert ledger.leases() == []


def test_chained_crashes_keep_every_orphan(tmp_path):
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)
    chash = hash_object(source, key)
    name, item_id = name_for_key(source, key, CFG), "incoming__p0.png"
    plant_lease(ledger, name, dead_owner("first"), f"b1/{item_id}")
    fake_process(dest, "b1", item_id, key, chash)()
    second = ledger.acquire(name, "second", output_prefix=f"b2/{item_id}")
    fake_process(dest, "b2", item_id, key, chash, files=FILES[:2])()
    ledger._forget(second)
    current, version = ledger.store.get(ledger.lease_key(name))
    dead = replace(LeaseInfo.from_bytes(current), owner=dead_owner("second"))
    ledger.store.replace(ledger.lease_key(name), dead.to_bytes(), version)
    assert run_once(ledger, source, dest, key, "b3", holder="third").status == "processed"
    assert item_folders(dest) == {item_id: 1} and ledger.check() == []


def test_losing_commit_removes_its_own_outputs(tmp_path):
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)
    chash = hash_object(source, key)
    name = name_for_key(source, key, CFG)

    def process_then_someone_commits() -> ItemRecord:
        record = fake_process(dest, "b2", "incoming__p0.png", key, chash)()
        fake_process(dest, "b1", "incoming__p0.png", key, chash)()
        ledger.store.create(ledger.done_key(name), DoneRecord(
            name, chash, CFG, key, "b1", "b1/incoming__p0.png", "ok", record.as_json(), time.time()).to_bytes())
        return record

    outcome = run_once(ledger, source, dest, key, "b2", process=process_then_someone_commits)
    assert outcome.status == "lost"
    assert item_folders(dest) == {"incoming__p0.png": 1}
    assert not dest.exists("b2/incoming__p0.png/meta.json")


def test_object_changed_while_processing_is_not_committed(tmp_path):
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)
    process = fake_process(dest, "b1", "incoming__p0.png", key, "0" * 64)
    outcome = run_once(ledger, source, dest, key, "b1", process=process)
    assert outcome.status == "changed" and ledger.done_names() == set() and item_folders(dest) == {}


def test_errors_are_classified_by_type_not_by_message(tmp_path):
    """A permanent error record is committed once whatever its text says; a transient error is
    raised (no record), so the next run retries it."""
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)

    def permission_denied() -> ItemRecord:
        return ItemRecord(id="x", source=key, status="error", error="could not read: [Errno 13] Permission denied")

    def connection_reset() -> ItemRecord:
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(ConnectionResetError):
        run_once(ledger, source, dest, key, "b1", process=connection_reset)
    assert ledger.done_names() == set() and ledger.leases() == []
    assert run_once(ledger, source, dest, key, "b2", process=permission_denied).status == "processed"
    assert run_once(ledger, source, dest, key, "b3", process=permission_denied).status == "done"


def test_error_items_are_committed_once(tmp_path):
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)

    def bad_image() -> ItemRecord:
        return ItemRecord(id="x", source=key, status="error", error="not an image", content_hash=hash_object(source, key))

    assert run_once(ledger, source, dest, key, "b1", process=bad_image).status == "processed"
    assert run_once(ledger, source, dest, key, "b2", process=bad_image).status == "done"


@pytest.mark.parametrize("key", ["incoming/../../etc/passwd", "/etc/passwd", "incoming/a\x00b.png",
                                 "incoming/\x1b[31mred.png", "C:\\x.png"])
def test_unsafe_keys_are_rejected_once_and_never_read(tmp_path, key):
    source, dest, _ = setup_source(tmp_path)
    ledger = Ledger(dest)

    def must_not_run() -> ItemRecord:
        raise AssertionError("an unsafe key must never be processed")

    kwargs = {"source": source, "key": key, "dest": dest, "batch_id": "b1", "item_id": "bad",
              "config_hash": CFG, "holder": "h", "process": must_not_run, "content_hash": "unused"}
    first = process_once(ledger, **kwargs)
    assert first.status == "processed" and first.record.status == "error"
    assert first.record.error.startswith("rejected key")
    again = process_once(ledger, **kwargs)  # a retry in the same batch (its first reply lost): its row again
    assert again.status == "processed" and again.record == first.record
    assert process_once(ledger, **{**kwargs, "batch_id": "b2"}).status == "done"  # a later batch: skipped
    assert not any(p.name == "passwd" for p in tmp_path.rglob("*"))


def test_batch_records_feed_report_recovery(tmp_path):
    source, dest, keys = setup_source(tmp_path, 3)
    ledger = Ledger(dest)
    lease = ledger.open_batch("b1", "flow-1", {"backend": "studio"})
    for key in keys:
        run_once(ledger, source, dest, key, "b1")
    assert list(ledger.open_batches()) == ["b1"]
    assert ledger.acquire("batch-b1", "someone-else") is None  # its run is alive
    assert [r.source for r in ledger.batch_records("b1")] == keys
    ledger.close_batch("b1", lease)
    assert ledger.open_batches() == {}


def test_move_input_never_overwrites_and_keeps_the_reason(tmp_path):
    source, _, (key,) = setup_source(tmp_path)
    source.write_bytes("failed/p0.png", b"older")
    moved = move_input(source, key, from_prefix="incoming/", to_prefix="failed/", reason="not an image")
    assert moved.startswith("failed/p0.") and moved != "failed/p0.png"
    assert source.read_bytes("failed/p0.png") == b"older"
    assert source.read_bytes(f"{moved}.error.txt").decode().strip() == "not an image"
    assert not source.exists(key)


def test_read_back_store_on_memory_filesystem():
    bucket = Bucket(f"memory://ledger-{os.getpid()}-{time.time_ns()}")
    ledger = Ledger(bucket)
    ledger.store.settle_s = 0.01
    assert isinstance(ledger.store, ReadBackStore) and ledger.atomicity == "read-back"
    lease = ledger.acquire("x", "a", output_prefix="b/x")
    assert lease is not None and ledger.acquire("x", "b") is None
    assert lease.renew()
    lease.release()
    assert ledger.acquire("x", "b") is not None


@pytest.mark.parametrize("exc,transient", [
    (ConnectionRefusedError("refused"), True),
    (TimeoutError("slow"), True),
    (OSError("reset"), True),
    (TransientItemError("could not read"), True),
    (ImageDecodeError("not an image"), False),
    (UnsafeKeyError("bad key"), False),
    (ValueError("bad"), False),
    (FileNotFoundError("gone"), False),
    (PermissionError("denied"), False),
])
def test_transient_error_classification(exc, transient):
    assert is_transient_error(exc) is transient


def test_botocore_errors_are_classified():
    needs("flows")  # s3fs brings botocore
    from botocore.exceptions import ClientError, EndpointConnectionError

    assert is_transient_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    slow = ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")
    denied = ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "Get")
    assert is_transient_error(slow) and not is_transient_error(denied)


def test_retry_after_a_lost_commit_reply_reports_the_item_once(tmp_path):
    """The done record was created but the reply (and the lease release) were lost: the task's
    retry must count the item as processed in its batch and drop its own lease."""
    source, dest, (key,) = setup_source(tmp_path)
    ledger = Ledger(dest)
    assert run_once(ledger, source, dest, key, "b1", holder="task-1").status == "processed"
    name = name_for_key(source, key, CFG)
    plant_lease(ledger, name, Owner.current("task-1"), "b1/incoming__p0.png")
    retry = run_once(ledger, source, dest, key, "b1", holder="task-1")
    assert retry.status == "processed" and retry.record.source == key
    assert ledger.leases() == []
    assert run_once(ledger, source, dest, key, "b2", holder="task-2").status == "done"
