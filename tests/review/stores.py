"""Where the catalogue tests run: a local folder, or a SeaweedFS bucket (a real S3 server with
conditional writes). Import the fixtures into a conftest: ``from tests.review.stores import seaweed, where``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline.io.storage import Bucket
from tests.flows.servers import SeaweedServer

BUCKET = "catalogue"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    server = SeaweedServer(tmp_path_factory.mktemp("weed") / "data").start()
    server.make_bucket(BUCKET)
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path, monkeypatch):
    """(DEST url, TARGET url, storage options) on a local folder or in a SeaweedFS bucket."""
    if request.param == "local":
        return str(tmp_path / "out"), str(tmp_path / "live"), None
    server = request.getfixturevalue("seaweed")
    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    root = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}"
    return f"{root}/out", f"{root}/live", server.storage_options()


def upload(local: Path, dest: str, opts: dict | None) -> None:
    """Copy a folder written locally (fake batches) to ``dest`` (a no-op when it is that folder)."""
    if opts is None and Path(dest) == local:
        return
    bucket = Bucket(dest, opts)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            bucket.write_bytes(path.relative_to(local).as_posix(), path.read_bytes())
