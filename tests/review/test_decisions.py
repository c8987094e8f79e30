"""decisions.json: validation, compare-and-swap under concurrent writers, atomic replacement."""

from __future__ import annotations

import json
import multiprocessing
import threading

import pytest

from pipeline.review.decisions import Decision, DecisionError, DecisionStore, counts
from pipeline.review.folder import BatchFolder, NotABatchError, open_batch_folder, split_batch_url
from pipeline.io.storage import Bucket

SHA = "a" * 64


def _folder(tmp_path, batch_id="b1") -> BatchFolder:
    (tmp_path / batch_id).mkdir(parents=True, exist_ok=True)
    (tmp_path / batch_id / "report.json").write_text(json.dumps({"batch_id": batch_id, "items": []}))
    return BatchFolder(Bucket(tmp_path), batch_id)


def test_record_and_load_round_trip_with_history(tmp_path):
    store = DecisionStore(_folder(tmp_path))
    assert store.load()["items"] == {} and not (tmp_path / "b1" / "decisions.json").exists()
    store.record([Decision("x", "rejected", "alice", note="fringe on the handle", composite_sha256=SHA)])
    doc = store.record([Decision("x", "approved", "bob", variant=1, composite_sha256=SHA)])
    on_disk = json.loads((tmp_path / "b1" / "decisions.json").read_text())
    assert on_disk == doc and doc["revision"] == 2 and doc["batch_id"] == "b1"
    entry = doc["items"]["x"]
    assert (entry["decision"], entry["reviewer"], entry["variant"], entry["rev"]) == ("approved", "bob", 1, 2)
    assert entry["composite_sha256"] == SHA and entry["decided_at"].endswith("+00:00")
    assert [h["decision"] for h in entry["history"]] == ["rejected"]
    assert entry["history"][0]["note"] == "fringe on the handle"
    assert counts(doc, ["x", "y"]) == {"approved": 1, "rejected": 0, "undecided": 1}


@pytest.mark.parametrize("kwargs, word", [
    ({"decision": "maybe"}, "decision"), ({"reviewer": " "}, "reviewer"), ({"variant": -1}, "variant"),
    ({"variant": True}, "variant"), ({"composite_sha256": "XYZ"}, "composite_sha256"),
    ({"note": "n" * 5000}, "note"), ({"item_id": ""}, "item_id"),
])
def test_bad_decisions_are_refused_with_the_field_named(kwargs, word):
    args = {"item_id": "x", "decision": "approved", "reviewer": "alice", **kwargs}
    with pytest.raises(DecisionError, match=word):
        Decision(**args)


def test_a_corrupt_decisions_file_is_never_overwritten(tmp_path):
    folder = _folder(tmp_path)
    (tmp_path / "b1" / "decisions.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        DecisionStore(folder).record([Decision("x", "approved", "alice")])
    assert (tmp_path / "b1" / "decisions.json").read_text() == "{not json"


class LosesRaces:
    """A store that lets another writer in before each of our first ``n`` writes."""

    def __init__(self, inner, folder, n):
        self.inner, self.folder, self.n = inner, folder, n
        self.atomicity = inner.atomicity

    def _rival(self):
        if self.n > 0:
            self.n -= 1
            DecisionStore(self.folder).record([Decision(f"rival{self.n}", "rejected", "bob")])

    def get(self, key):
        return self.inner.get(key)

    def create(self, key, data):
        self._rival()
        return self.inner.create(key, data)

    def replace(self, key, data, version):
        self._rival()
        return self.inner.replace(key, data, version)


def test_a_writer_that_loses_compare_and_swap_rereads_and_keeps_the_rivals_decisions(tmp_path):
    folder = _folder(tmp_path)
    ours = DecisionStore(folder)
    ours.file.store = LosesRaces(folder.store, folder, n=3)
    doc = ours.record([Decision("mine", "approved", "alice")])
    assert set(doc["items"]) == {"mine", "rival0", "rival1", "rival2"}
    assert json.loads((tmp_path / "b1" / "decisions.json").read_text())["revision"] == 4


def test_concurrent_threads_lose_no_decision_and_readers_never_see_a_partial_file(tmp_path):
    folder = _folder(tmp_path)
    path = tmp_path / "b1" / "decisions.json"
    stop, bad = threading.Event(), []

    def reader():
        while not stop.is_set():
            if path.exists():
                try:
                    json.loads(path.read_bytes())
                except ValueError as exc:  # a torn write would show here
                    bad.append(exc)

    def writer(w):
        store = DecisionStore(BatchFolder(Bucket(tmp_path), "b1"))
        for i in range(15):
            store.record([Decision(f"w{w}-{i}", "approved" if i % 2 else "rejected", f"r{w}")])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    doc = DecisionStore(folder).load()
    assert len(doc["items"]) == 60 and doc["revision"] == 60 and not bad


def _process_writer(root: str, w: int) -> None:
    store = DecisionStore(BatchFolder(Bucket(root), "b1"))
    for i in range(10):
        store.record([Decision(f"p{w}-{i}", "approved", f"proc{w}")])


def test_concurrent_processes_lose_no_decision(tmp_path):
    folder = _folder(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(str(tmp_path), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(DecisionStore(folder).load()["items"]) == 30


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
