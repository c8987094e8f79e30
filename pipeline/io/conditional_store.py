"""Small-object stores with conditional writes, the ledger's only primitive.

Every store offers the same five operations on keys relative to a :class:`~pipeline.io.storage.Bucket`:

- ``get(key) -> (data, version) | None``
- ``create(key, data) -> version | None``: write only if absent; ``None`` when it already exists
- ``replace(key, data, version) -> version | None``: compare-and-swap; ``None`` when the object
  changed (or vanished) since ``version`` was read
- ``delete(key, version)``: delete only if still at ``version``
- ``put(key, data)``: unconditional atomic write (pointers and other hints)
- ``list(prefix) -> keys``

Three implementations, chosen by :func:`open_store`:

- :class:`LocalStore` (``file://``, plain folders): ``create`` links a fully written temp file
  into place (``os.link`` fails if the name exists: atomic and exclusive); ``replace`` and
  ``delete`` run under an ``fcntl.flock`` on ``_ledger/.lock``. Atomicity ``"local-lock"``.
- :class:`S3Store` (``s3://``): ``create`` is ``PUT`` with ``If-None-Match: *``, ``replace``
  is ``PUT`` with ``If-Match: <etag>``, ``delete`` is ``DELETE`` with ``If-Match``. Support is
  probed once per endpoint and bucket (AWS S3 and SeaweedFS >= 4 honour it; a server that
  ignores the headers is detected; a transient error during the probe is retried, never
  taken for "unsupported"). A conditional PUT answered 412 whose stored object is byte-for-byte
  the caller's (botocore retried a PUT whose first reply was lost) counts as the caller's
  success. Atomicity ``"conditional"``.
- :class:`ReadBackStore` (anything else, or an S3 server that ignores the headers): write,
  wait ``settle_s``, read back and compare. Best effort: two writers racing inside the settle
  window can both believe they won. Atomicity ``"read-back"``; the ledger warns once.

Transient IO errors (connection refused, timeouts, 5xx) propagate unchanged so callers retry;
:func:`pipeline.io.transient.is_transient_error` tells them apart from bad input.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import posixpath
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from fsspec.asyn import sync

from pipeline.io.storage import Bucket
from pipeline.io.transient import is_transient_error, s3_error_code

log = logging.getLogger(__name__)

LOCK_NAME = "_ledger/.lock"
TEMP_NAME_CHARS = 64  # of the target's name in a temp file's: a 255-byte name must still get one
DURABLE_PREFIXES = ("_ledger/done/", "_catalogue/", "_fixes/")  # commits; the catalogue and reviewers' fixes
DURABLE_NAMES = frozenset({"decisions.json", "published.json"})  # reviewers' work (pipeline.review)
DURABLE_FOLDER = "/_decisions/"  # each decision's journal file (pipeline.catalogue.homes)


class ConditionalStore(Protocol):
    atomicity: str

    def get(self, key: str) -> tuple[bytes, str] | None: ...

    def create(self, key: str, data: bytes) -> str | None: ...

    def replace(self, key: str, data: bytes, version: str) -> str | None: ...

    def delete(self, key: str, version: str | None = None) -> bool: ...

    def put(self, key: str, data: bytes) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def _relative_keys(bucket: Bucket, paths: list[str]) -> list[str]:
    root = bucket.root.rstrip("/")
    out = []
    for full in paths:
        rel = full[len(root):].lstrip("/") if root and full.startswith(root) else full
        out.append(rel)
    return sorted(out)


class LocalStore:
    """Conditional writes on a local (or NFS with working ``flock``) filesystem."""

    atomicity = "local-lock"

    def __init__(self, bucket: Bucket):
        self.bucket = bucket

    def _file(self, key: str) -> Path:
        return Path(self.bucket.path(key))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        lock_path = self._file(LOCK_NAME)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = self._file(key).read_bytes()
        except FileNotFoundError:
            return None
        return data, _digest(data)

    @staticmethod
    def _durable(key: str) -> bool:
        """Only commits are fsynced: a lease, index entry or pointer lost in a power cut is
        harmless (at worst an item is computed again; its commit is still exactly once).
        Review decisions and publish records are people's work: fsynced too."""
        return (key.startswith(DURABLE_PREFIXES) or posixpath.basename(key) in DURABLE_NAMES
                or DURABLE_FOLDER in key)

    def _temp(self, path: Path, data: bytes, durable: bool) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:TEMP_NAME_CHARS]}.", suffix=".part", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        return tmp

    def create(self, key: str, data: bytes) -> str | None:
        path = self._file(key)
        tmp = self._temp(path, data, self._durable(key))
        try:
            os.link(tmp, path)
        except FileExistsError:
            return None
        finally:
            os.unlink(tmp)
        if self._durable(key):
            _fsync_dir(path.parent)
        return _digest(data)

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        path = self._file(key)
        with self._locked():
            current = self.get(key)
            if current is None or current[1] != version:
                return None
            tmp = self._temp(path, data, self._durable(key))
            os.replace(tmp, path)
        if self._durable(key):
            _fsync_dir(path.parent)
        return _digest(data)

    def put(self, key: str, data: bytes) -> None:
        path = self._file(key)
        os.replace(self._temp(path, data, self._durable(key)), path)

    def delete(self, key: str, version: str | None = None) -> bool:
        path = self._file(key)
        with self._locked():
            current = self.get(key)
            if current is None or (version is not None and current[1] != version):
                return False
            path.unlink()
        return True

    def list(self, prefix: str) -> list[str]:
        base = self._file(prefix)
        if not base.is_dir():
            return []
        names = []
        for dirpath, _dirs, files in os.walk(base):
            names.extend(os.path.join(dirpath, f) for f in files if not f.startswith("."))
        return _relative_keys(self.bucket, names)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _precondition_failed(exc: BaseException) -> bool:
    code = s3_error_code(exc)
    if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
        return True
    return isinstance(exc, FileExistsError)


def _missing(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError) or s3_error_code(exc) in ("NoSuchKey", "404", "NotFound")


PROBE_ATTEMPTS = 4
PROBE_BACKOFF_S = 0.25  # then 0.5, 1 s
_probe_cache: dict[tuple[str, str], bool] = {}
_probe_lock = threading.Lock()


class S3Store:
    """Conditional PUT/DELETE through s3fs's botocore client (``If-None-Match`` / ``If-Match``)."""

    atomicity = "conditional"

    def __init__(self, bucket: Bucket):
        self.bucket = bucket
        self.fs = bucket.fs

    def _split(self, key: str) -> tuple[str, str]:
        s3_bucket, s3_key, _ = self.fs.split_path(self.bucket.path(key))
        return s3_bucket, s3_key

    def get(self, key: str) -> tuple[bytes, str] | None:
        b, k = self._split(key)

        async def _get() -> tuple[bytes, str]:
            resp = await self.fs._call_s3("get_object", Bucket=b, Key=k)
            async with resp["Body"] as stream:
                body = await stream.read()
            return body, str(resp.get("ETag", "")).strip('"')

        try:
            data, etag = sync(self.fs.loop, _get)
        except Exception as exc:
            if _missing(exc):
                return None
            raise
        return data, etag or _digest(data)

    def _put(self, key: str, data: bytes, **cond: str) -> str | None:
        b, k = self._split(key)
        try:
            resp = self.fs.call_s3("put_object", Bucket=b, Key=k, Body=data, **cond)
        except Exception as exc:
            if _precondition_failed(exc):
                return self._own_earlier_write(key, data)
            if cond.get("IfMatch") and _missing(exc):
                return None
            raise
        self.fs.invalidate_cache(self.bucket.path(key))
        return str(resp.get("ETag", "")).strip('"')

    def _own_earlier_write(self, key: str, data: bytes) -> str | None:
        """After a failed precondition: the stored object's version when it is byte-for-byte
        ``data``, else None.

        botocore retries a PUT whose reply was lost (connection reset, timeout); when the first
        try was stored, the retry fails its own precondition (412) against our own object. Every
        ledger object written conditionally is unique to its writer (done records carry the
        owner and commit time, leases a nonce), so equal bytes mean this caller won.
        """
        current = self.get(key)
        if current is None or current[0] != data:
            return None
        log.info("%s: conditional PUT answered 412, but the stored object is this caller's own "
                 "(a retried request whose first reply was lost)", key)
        return current[1]

    def create(self, key: str, data: bytes) -> str | None:
        return self._put(key, data, IfNoneMatch="*")

    def put(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        return self._put(key, data, IfMatch=f'"{version}"')

    def delete(self, key: str, version: str | None = None) -> bool:
        b, k = self._split(key)
        cond = {"IfMatch": f'"{version}"'} if version else {}
        try:
            self.fs.call_s3("delete_object", Bucket=b, Key=k, **cond)
        except Exception as exc:
            if _precondition_failed(exc) or _missing(exc):
                return False
            raise
        self.fs.invalidate_cache(self.bucket.path(key))
        return True

    def list(self, prefix: str) -> list[str]:
        base = self.bucket.path(prefix)
        self.fs.invalidate_cache(base)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        return _relative_keys(self.bucket, [f for f in found if not posixpath.basename(f).startswith(".")])

    def probe(self) -> bool:
        """True when the server refuses a second ``If-None-Match: *`` PUT (cached per bucket).

        Transient errors (throttling, 5xx, connection) are retried ``PROBE_ATTEMPTS`` times and
        then raised, never cached: only a definite answer is remembered for the process.
        """
        b, _ = self._split("_ledger/probe")
        cache_key = (str(getattr(self.fs, "client_kwargs", {}).get("endpoint_url") or
                         getattr(self.fs, "endpoint_url", "") or ""), b)
        with _probe_lock:
            if cache_key in _probe_cache:
                return _probe_cache[cache_key]
        for attempt in range(PROBE_ATTEMPTS):
            try:
                supported = self._probe_once()
                break
            except Exception as exc:
                if not is_transient_error(exc) or attempt == PROBE_ATTEMPTS - 1:
                    raise
                delay = PROBE_BACKOFF_S * 2 ** attempt
                log.info("conditional-write probe hit a transient error (%s); retrying in %.2f s",
                         s3_error_code(exc) or type(exc).__name__, delay)
                time.sleep(delay)
        with _probe_lock:
            _probe_cache[cache_key] = supported
        return supported

    def _probe_once(self) -> bool:
        """One probe on a fresh key; raises transient errors, answers False for servers that
        reject the header (InvalidArgument, NotImplemented) or ignore it."""
        key = f"_ledger/probe/{uuid.uuid4().hex}"
        try:
            if self.create(key, b"1") is None:
                return False
            return self.create(key, b"2") is None
        except Exception as exc:
            if s3_error_code(exc) is None or is_transient_error(exc):
                raise
            log.info("S3 conditional writes not supported here (%s)", s3_error_code(exc))
            return False
        finally:
            with contextlib.suppress(Exception):
                b2, k2 = self._split(key)
                self.fs.call_s3("delete_object", Bucket=b2, Key=k2)


class ReadBackStore:
    """Write, wait, read back: for stores without conditional writes (best effort)."""

    atomicity = "read-back"

    def __init__(self, bucket: Bucket, settle_s: float = 0.25):
        self.bucket = bucket
        self.settle_s = settle_s

    def get(self, key: str) -> tuple[bytes, str] | None:
        path = self.bucket.path(key)
        try:
            data = self.bucket.fs.cat_file(path)
        except FileNotFoundError:
            return None
        return data, _digest(data)

    def _write_verified(self, key: str, data: bytes) -> str | None:
        self.bucket.write_bytes(key, data)
        time.sleep(self.settle_s)
        current = self.get(key)
        return _digest(data) if current is not None and current[0] == data else None

    def create(self, key: str, data: bytes) -> str | None:
        if self.get(key) is not None:
            return None
        return self._write_verified(key, data)

    def put(self, key: str, data: bytes) -> None:
        self.bucket.write_bytes(key, data)

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        current = self.get(key)
        if current is None or current[1] != version:
            return None
        return self._write_verified(key, data)

    def delete(self, key: str, version: str | None = None) -> bool:
        current = self.get(key)
        if current is None or (version is not None and current[1] != version):
            return False
        try:
            self.bucket.fs.rm_file(self.bucket.path(key))
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        base = self.bucket.path(prefix)
        with contextlib.suppress(AttributeError):
            self.bucket.fs.invalidate_cache(base)
        if not self.bucket.fs.exists(base):
            return []
        found = self.bucket.fs.find(base)
        return _relative_keys(self.bucket, [f for f in found if not posixpath.basename(f).startswith(".")])


def open_store(bucket: Bucket, *, settle_s: float = 0.25) -> ConditionalStore:
    """The strongest store this bucket supports (see the module docstring)."""
    protocols = bucket.fs.protocol if isinstance(bucket.fs.protocol, tuple) else (bucket.fs.protocol,)
    if bucket.is_local:
        try:
            import fcntl  # noqa: F401
        except ImportError:  # Windows: no flock
            return ReadBackStore(bucket, settle_s)
        return LocalStore(bucket)
    if {"s3", "s3a"} & set(protocols):
        store = S3Store(bucket)
        if store.probe():
            return store
        log.warning("S3 server ignores conditional writes; the ledger falls back to read-back "
                    "verification (best effort under races)")
    return ReadBackStore(bucket, settle_s)
