"""What ``review`` and ``publish`` are given: ``DEST`` or ``DEST/<batch_id>`` (a local folder or
an fsspec URL), and safe reads from a batch folder.

A batch is addressed through its parent bucket (``DEST``) so that the catalogue and publish
records use the same conditional-write store as the ledger (:mod:`pipeline.io.conditional_store`).
Every relative path from outside goes through :func:`pipeline.io.storage.safe_key`; on a local
disk the resolved path must also stay inside the batch folder (no symlink leads out).
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from functools import cached_property
from shlex import quote
from typing import Any

from pipeline.catalogue.homes import list_homes
from pipeline.errors import UnsafeKeyError
from pipeline.io.conditional_store import ConditionalStore, open_store
from pipeline.io.storage import Bucket, options_for_url, safe_key

MAX_REPORT_BYTES = 256 << 20


class NotABatchError(ValueError):
    """The folder has no ``report.json``: it is not a batch written by ``product-scene run``."""


def split_batch_url(url: str) -> tuple[str, str]:
    """``out/b1`` -> (``out``, ``b1``); ``s3://shop/out/b1/`` -> (``s3://shop/out``, ``b1``)."""
    text = str(url).rstrip("/")
    parent, _, batch_id = text.rpartition("/")
    if not batch_id or batch_id in (".", "..") or (not parent and "://" in text):
        raise NotABatchError(f"batch URL must look like DEST/<batch_id>, got {url!r}")
    if not parent:
        parent = "."
    elif parent.endswith(":/") or parent.endswith("://"):  # s3://bucket-only: the bucket is DEST
        raise NotABatchError(f"batch URL must name a batch folder inside a bucket, got {url!r}")
    return parent, batch_id


@dataclass
class BatchFolder:
    """``dest`` is the parent bucket, ``batch_id`` the folder name (a safe key)."""

    dest: Bucket
    batch_id: str

    @property
    def url(self) -> str:
        return self.dest.uri(self.batch_id)

    def key(self, rel: str) -> str:
        """The bucket key of a path relative to the batch folder; ``UnsafeKeyError`` if it escapes."""
        return f"{self.batch_id}/{safe_key(rel)}"

    @cached_property
    def store(self) -> ConditionalStore:
        return open_store(self.dest)

    def exists(self, rel: str) -> bool:
        return self.dest.exists(self.key(rel))

    def read_bytes(self, rel: str, max_bytes: int | None = None) -> bytes:
        """The file's bytes. ``UnsafeKeyError`` for keys that escape (``..``, absolute, a symlink
        out of the folder), ``FileNotFoundError`` when absent."""
        key = self.key(rel)
        if self.dest.is_local:
            self._check_inside(key)
        return self.dest.read_bytes(key, max_bytes=max_bytes)

    def _check_inside(self, key: str) -> None:
        root = os.path.realpath(self.dest.path(self.batch_id))
        real = os.path.realpath(self.dest.path(key))
        if real != root and not real.startswith(root + os.sep):
            raise UnsafeKeyError(f"path leads out of the batch folder: {key!r}")
        if not os.path.isfile(real):
            raise FileNotFoundError(key)

    def read_json(self, rel: str, max_bytes: int = MAX_REPORT_BYTES) -> Any:
        return json.loads(self.read_bytes(rel, max_bytes=max_bytes))

    def write_bytes(self, rel: str, data: bytes) -> str:
        return self.dest.write_bytes(self.key(rel), data)

    def report(self) -> dict[str, Any]:
        """report.json as a dict; :class:`NotABatchError` when it is missing or not a report."""
        try:
            report = self.read_json("report.json")
        except FileNotFoundError:
            raise NotABatchError(f"{self.url} is not a batch: it has no report.json "
                                 "(give the folder `product-scene run` wrote, DEST/<batch_id>)") from None
        except ValueError as exc:
            raise NotABatchError(f"{self.url}/report.json is not valid JSON: {exc}") from None
        if not isinstance(report, dict) or not isinstance(report.get("items"), list):
            raise NotABatchError(f"{self.url}/report.json has no items list: not a batch report")
        return report


def open_batch_folder(url: str, storage_options: dict[str, Any] | None = None) -> BatchFolder:
    """The batch at ``url`` (``DEST/<batch_id>``); raises :class:`NotABatchError` with a one-line
    reason when it is not one. ``storage_options`` apply to remote URLs only."""
    parent, batch_id = split_batch_url(url)
    try:
        safe_key(batch_id)
    except UnsafeKeyError as exc:
        raise NotABatchError(f"bad batch name {batch_id!r}: {exc}") from None
    if batch_id.startswith(("_", ".")):
        raise NotABatchError(f"{batch_id!r} is not a batch folder (names starting with _ or . are not batches)")
    folder = BatchFolder(Bucket(parent, options_for_url(parent, storage_options)), batch_id)
    if folder.dest.is_local and not os.path.isdir(folder.dest.path(batch_id)):
        raise NotABatchError(f"{url} is not a folder")
    folder.report()
    return folder


def open_destination(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Bucket, str | None]:
    """``DEST`` -> (DEST, None); ``DEST/<batch_id>`` (a folder with a report.json) -> (DEST,
    batch_id). :class:`NotABatchError` with a one-line reason when ``url`` is neither."""
    text = str(url).rstrip("/") or "."
    bucket = Bucket(text, options_for_url(text, storage_options))
    if bucket.is_local and not os.path.isdir(bucket.root or "."):
        raise NotABatchError(f"{url} is not a folder")
    if bucket.exists("report.json"):
        folder = open_batch_folder(text, storage_options)
        return folder.dest, folder.batch_id
    if not bucket.exists("_catalogue") and not any(bucket.exists(f"{h}/report.json") for h in list_homes(bucket)):
        raise NotABatchError(f"{url} holds no batch: give DEST (the folder `product-scene run` wrote batches "
                             "into) or DEST/<batch_id>; it has no report.json and no batch folder with one")
    return bucket, None


def item_file(item_id: str, name: str) -> str:
    """``<item_id>/<name>`` after checking both are single safe path segments."""
    for label, part in (("item id", item_id), ("file name", name)):
        if not part or "/" in part or part != safe_key(part) or part.startswith("."):
            raise UnsafeKeyError(f"bad {label}: {part!r}")
    return posixpath.join(item_id, name)


def review_command(dest_url: str, endpoint_url: str | None = None, *, source_url: str | None = None) -> str:
    """The command that reviews ``dest_url`` (one queue over its batches), ready to paste;
    ``source_url``: the photos, so cut-outs can be fixed on the page (``--source``)."""
    text = f"product-scene review {quote(str(dest_url))}"
    text += f" --source {quote(str(source_url))}" if source_url else ""
    return text + (f" --endpoint-url {quote(endpoint_url)}" if endpoint_url else "")
