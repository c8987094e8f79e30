"""The one listing rule (CLI and flow) and the plan: every key an item, a sidecar or ignored with its
rule; nothing read for keys the ledger has done; copies grouped without reading unique sizes."""

from __future__ import annotations

import os
import socket

import pytest

from pipeline.batch.plan import RULES, Planned, group_todo, list_source, plan_batch
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger, key_identity
from pipeline.ledger.identities import item_identity, item_name


def test_every_key_is_an_item_a_sidecar_or_ignored_with_its_rule(tmp_path):
    src = tmp_path / "src"
    files = {"a.jpg": b"a", "a.json": b"{}", "b.jfif": b"b", "noext": b"n", "c.jpg ": b"c", "notes.txt": b"t",
             "lonely.json": b"{}", ".DS_Store": b"x", "_gt/m.png": b"m", "_gt/n.png": b"n", "sub/.git/o": b"o",
             "sub/d.PNG": b"d"}
    for key, data in files.items():
        (src / key).parent.mkdir(parents=True, exist_ok=True)
        (src / key).write_bytes(data)
    os.mkfifo(src / "pipe.jpg")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "sock.png"))
    os.symlink(src / "missing.jpg", src / "dangling.jpg")
    os.symlink(src / "a.jpg", src / "alias.jpg")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", src / "linked")
    (src / "e.jpg").write_bytes(b"e")
    (src / "e.json").mkdir()  # a folder where the sidecar should be

    listing = list_source(Bucket(src))
    items = {p.key: p for p in listing.items}
    assert set(items) == {"a.jpg", "b.jfif", "noext", "c.jpg ", "notes.txt", "sub/d.PNG", "pipe.jpg", "sock.png",
                          "dangling.jpg", "alias.jpg", "e.jpg"}
    assert items["a.jpg"].sidecar and not items["b.jfif"].sidecar
    assert items["alias.jpg"].problem is None and items["alias.jpg"].size == 1  # a link inside: its target
    assert "named pipe (FIFO)" in items["pipe.jpg"].problem and "socket" in items["sock.png"].problem
    assert "broken symbolic link" in items["dangling.jpg"].problem
    assert items["e.jpg"].problem == "sidecar e.json is a folder, not a file"
    ignored = {i.key: (i.rule, i.count) for i in listing.ignored}
    assert ignored == {"_gt/": ("hidden_folder", 2), "sub/.git/": ("hidden_folder", 1),
                       ".DS_Store": ("hidden_file", 1), "lonely.json": ("lone_json", 1), "linked": ("folder_link", 1)}
    assert all(rule in RULES for rule, _ in ignored.values())
    assert not [p for p in tmp_path.rglob("*") if p.name == "inside"]  # nothing written


def test_a_fifo_is_never_opened(tmp_path):
    """Reading a FIFO blocks until a writer comes: the plan and the read path must not open one."""
    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe.jpg")
    bucket = Bucket(src)
    (planned,) = list_source(bucket).items
    assert planned.problem
    from pipeline.errors import NotRegularFileError

    with pytest.raises(NotRegularFileError, match="named pipe"):
        bucket.read_bytes("pipe.jpg", max_bytes=10)  # returns at once: opened non-blocking, refused on fstat


def test_sidecar_fingerprint_makes_an_edited_sidecar_a_new_item(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"a")
    before = list_source(Bucket(src)).items[0].fp
    (src / "a.json").write_text('{"sku": "x"}')
    with_sidecar = list_source(Bucket(src)).items[0].fp
    assert before and with_sidecar and with_sidecar.startswith(before + "+")
    os.chmod(src / "a.jpg", 0o600)  # made readable (or not): a new fingerprint, so it is tried again
    assert list_source(Bucket(src)).items[0].fp != with_sidecar


def test_plan_skips_done_keys_without_reading_them(tmp_path, monkeypatch):
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    for i in range(3):
        (src / f"p{i}.jpg").write_bytes(f"photo {i}".encode())
    source, ledger = Bucket(src), Ledger(Bucket(dest))
    todo = plan_batch(source, ledger=ledger, config_hash="cfg").todo
    assert len(todo) == 3
    for planned in todo[:2]:  # as process_once leaves them: a done record and the fingerprint index
        identity = item_identity(f"hash-{planned.key}", None, planned.key)
        assert ledger.store.create(ledger.done_key(item_name(identity, "cfg")), b"{}")
        ledger.remember(source.url, planned.key, planned.fp, identity)
    bad = Planned("bad\x1b.jpg", "fp")
    assert ledger.store.create(ledger.done_key(item_name(key_identity(source.url, bad.key, bad.fp), "cfg")), b"{}")

    def no_reads(*args, **kwargs):
        raise AssertionError("the plan must not read a photo")

    monkeypatch.setattr(Bucket, "open_read", no_reads)
    plan = plan_batch(source, ledger=ledger, config_hash="cfg")
    assert [p.key for p in plan.todo] == ["p2.jpg"] and plan.done == ("p0.jpg", "p1.jpg") and plan.listed == 3
    assert [p.key for p in plan_batch(source, ledger=ledger, config_hash="other").todo] == ["p0.jpg", "p1.jpg",
                                                                                             "p2.jpg"]
    assert plan_batch(source, ledger=ledger, config_hash="cfg", max_items=0).todo == ()


def test_groups_read_only_keys_whose_size_another_shares(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"same bytes")
    (src / "b.jpg").write_bytes(b"same bytes")
    (src / "c.jpg").write_bytes(b"diff bytes")  # same size, other bytes
    (src / "d.jpg").write_bytes(b"a size of its own")
    source = Bucket(src)
    read: list[str] = []
    real = Bucket.open_read

    def counting(self, key):
        read.append(key)
        return real(self, key)

    monkeypatch.setattr(Bucket, "open_read", counting)
    groups = group_todo(source, list_source(source).items)
    assert [[p.key for p in g] for g in groups] == [["a.jpg", "b.jpg"], ["c.jpg"], ["d.jpg"]]
    assert sorted(read) == ["a.jpg", "b.jpg", "c.jpg"]
    etag = [Planned("x.jpg", "f", 5, etag='"e1"'), Planned("y.jpg", "f", 5, etag='"e1"'),
            Planned("z.jpg", "f", 5, etag='"e2"')]
    read.clear()
    assert [[p.key for p in g] for g in group_todo(source, etag)] == [["x.jpg", "y.jpg"], ["z.jpg"]]
    assert read == []  # equal ETags are equal bytes: no read
