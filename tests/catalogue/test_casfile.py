"""One JSON object updated with compare-and-swap: a loser re-reads and keeps the rival's change,
readers never see a part, a damaged file is never overwritten, an unchanged object is not written."""

from __future__ import annotations

import json
import threading

import pytest

from pipeline.catalogue.casfile import CasJsonFile
from pipeline.io.conditional_store import open_store
from pipeline.io.storage import Bucket

KEY = "_catalogue/products/ab.json"


def _file(root, store=None) -> CasJsonFile:
    return CasJsonFile(store or open_store(Bucket(root)), KEY, lambda: {"products": {}}, compact=True)


def _add(name):
    return lambda doc: doc["products"].__setitem__(name, {"id": name})


class LosesRaces:
    """A store that lets another writer in before each of our first ``n`` writes."""

    def __init__(self, inner, root, n):
        self.inner, self.root, self.n = inner, root, n
        self.atomicity = inner.atomicity

    def _rival(self):
        if self.n > 0:
            self.n -= 1
            _file(self.root).update(_add(f"rival{self.n}"))

    def get(self, key):
        return self.inner.get(key)

    def create(self, key, data):
        self._rival()
        return self.inner.create(key, data)

    def replace(self, key, data, version):
        self._rival()
        return self.inner.replace(key, data, version)


def test_a_writer_that_loses_compare_and_swap_rereads_and_keeps_the_rivals_change(tmp_path):
    ours = _file(tmp_path, LosesRaces(open_store(Bucket(tmp_path)), tmp_path, n=3))
    doc = ours.update(_add("mine"))
    assert set(doc["products"]) == {"mine", "rival0", "rival1", "rival2"}
    assert set(json.loads((tmp_path / KEY).read_text())["products"]) == set(doc["products"])


def test_concurrent_writers_lose_nothing_and_readers_never_see_a_partial_file(tmp_path):
    path = tmp_path / KEY
    stop, bad = threading.Event(), []

    def reader():
        while not stop.is_set():
            if path.exists():
                try:
                    json.loads(path.read_bytes())
                except ValueError as exc:  # a torn write would show here
                    bad.append(exc)

    def writer(w):
        f = _file(tmp_path)
        for i in range(15):
            f.update(_add(f"w{w}-{i}"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert len(_file(tmp_path).read()[0]["products"]) == 60 and not bad


def test_a_damaged_file_is_never_overwritten_and_an_unchanged_one_never_rewritten(tmp_path):
    f = _file(tmp_path)
    f.update(_add("x"))
    mtime = (tmp_path / KEY).stat().st_mtime_ns
    f.update(_add("x"))  # the same change again: nothing to write
    assert (tmp_path / KEY).stat().st_mtime_ns == mtime
    (tmp_path / KEY).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        f.update(_add("y"))
    assert (tmp_path / KEY).read_text() == "{not json"
