import os

import pytest

from pipeline.errors import ImageDecodeError, UnsafeKeyError
from pipeline.io.storage import Bucket, safe_key


@pytest.mark.parametrize("key", ["../x.jpg", "a/../../x.jpg", "/etc/passwd", "C:\\x.jpg", "a\\b.jpg",
                                 "a\x00b.jpg", "bad\nname.jpg", "", "./", "a/../..", "\x1b[31m.jpg"])
def test_unsafe_keys_rejected(key):
    with pytest.raises(UnsafeKeyError):
        safe_key(key)


@pytest.mark.parametrize("key,expected", [("a.jpg", "a.jpg"), ("./a/b.jpg", "a/b.jpg"), ("a//b.jpg", "a/b.jpg"),
                                          ("dots..in..name.jpg", "dots..in..name.jpg"), ("ünïcode.jpg", "ünïcode.jpg")])
def test_safe_keys_normalised(key, expected):
    assert safe_key(key) == expected


def test_local_bucket_roundtrip_and_listing(tmp_path):
    b = Bucket(tmp_path)
    b.write_bytes("in/a.jpg", b"1")
    b.write_bytes("in/sub/b.PNG", b"2")
    b.write_bytes("in/notes.txt", b"3")
    b.write_bytes("in/_ground_truth/a_mask.png", b"4")
    b.write_bytes("in/.cache/c.png", b"5")
    assert b.list_images("in") == ["in/a.jpg", "in/sub/b.PNG"]
    assert b.read_bytes("in/a.jpg") == b"1"
    assert b.exists("in/a.jpg") and not b.exists("in/zzz.jpg")
    assert b.uri("in/a.jpg") == os.path.join(str(tmp_path), "in/a.jpg")


def test_atomic_write_leaves_no_partial_files(tmp_path):
    b = Bucket(tmp_path)
    b.write_bytes("x/out.png", b"a" * 1000)
    b.write_bytes("x/out.png", b"b" * 10)
    assert sorted(os.listdir(tmp_path / "x")) == ["out.png"]
    assert (tmp_path / "x" / "out.png").read_bytes() == b"b" * 10


def test_writes_never_escape_the_bucket(tmp_path):
    b = Bucket(tmp_path / "dest")
    with pytest.raises(UnsafeKeyError):
        b.write_bytes("../escape.txt", b"x")
    assert not (tmp_path / "escape.txt").exists()


def test_read_limit(tmp_path):
    b = Bucket(tmp_path)
    b.write_bytes("big.jpg", b"x" * 100)
    with pytest.raises(ImageDecodeError, match="too large"):
        b.read_bytes("big.jpg", max_bytes=10)


def test_memory_bucket():
    b = Bucket("memory://ps-test-bucket")
    b.write_bytes("k/a.png", b"z")
    assert b.list_images() == ["k/a.png"]
    assert b.read_bytes("k/a.png") == b"z"


def test_atomic_write_keeps_old_file_when_replace_fails(tmp_path, monkeypatch):
    import pipeline.io.storage as storage_mod

    target = tmp_path / "x.bin"
    target.write_bytes(b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(storage_mod.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        storage_mod.atomic_write_file(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]
