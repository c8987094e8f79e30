"""Bucket access over fsspec: listing, bounded reads, atomic writes, key validation.

A :class:`Bucket` is a folder or an fsspec URL (``file://``, ``s3://``, ``memory://``). Keys are
``/``-separated paths relative to the bucket root. Every key that comes from outside (an object
listing, a user argument) passes :func:`safe_key` before it is joined to a path, so ``../``,
absolute paths and control characters can never escape the bucket.

Atomic writes: on a local filesystem the bytes go to a temporary file in the same folder and
are renamed over the target (``os.replace``); on object stores a single PUT is already atomic
(readers see the old object or the new one, never a part).
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import fsspec

from pipeline.errors import InputTooLargeError, NotRegularFileError, UnsafeKeyError
from pipeline.io.formats import LISTED_EXTENSIONS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = LISTED_EXTENSIONS  # what imageio decodes, plus image files reported as unsupported
MAX_KEY_LENGTH = 1024
TEMP_NAME_CHARS = 64  # of the target's name in a temp file's: a 255-byte name must still get one


def safe_key(key: str) -> str:
    """Return ``key`` normalised (no leading ``./``), or raise :class:`UnsafeKeyError`.

    Rejected: empty keys, absolute paths (``/x``, ``C:\\x``, ``\\\\host``), any ``..`` segment,
    backslashes, NUL and other control characters, and keys over 1024 characters.
    """
    if not isinstance(key, str) or not key:
        raise UnsafeKeyError("empty object key")
    if len(key) > MAX_KEY_LENGTH:
        raise UnsafeKeyError(f"object key longer than {MAX_KEY_LENGTH} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        raise UnsafeKeyError(f"object key contains control characters: {key!r}")
    if "\\" in key:
        raise UnsafeKeyError(f"object key contains a backslash: {key!r}")
    if key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        raise UnsafeKeyError(f"object key is an absolute path: {key!r}")
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafeKeyError(f"object key names no file: {key!r}")
    if any(p == ".." for p in parts):
        raise UnsafeKeyError(f"object key climbs out of the bucket with '..': {key!r}")
    return "/".join(parts)


def hidden_folder(key: str) -> str | None:
    """The folder (``a/_ledger/``) that hides ``key``: the first folder on its path whose name starts
    with ``_`` or ``.`` (``_ledger``, ``_ground_truth``, ``.git``); None when no folder hides it."""
    parts = key.split("/")[:-1]
    for i, part in enumerate(parts):
        if part[:1] in ("_", "."):
            return "/".join(parts[: i + 1]) + "/"
    return None


def file_kind(mode: int) -> str:
    """What a ``st_mode`` names, in words (``regular file``, ``named pipe (FIFO)``, ...)."""
    if stat.S_ISREG(mode):
        return "regular file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    return "special file"


def _open_regular(path: str) -> IO[bytes]:
    """Open a local path for reading only if it is a regular file: a FIFO is opened non-blocking
    (so no writer is waited for) and refused on ``fstat`` before a byte is read; sockets refuse
    to open (ENXIO). Raises :class:`NotRegularFileError` naming what it is."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == 6:  # ENXIO: a socket (or a FIFO on some systems)
            raise NotRegularFileError(f"{posixpath.basename(path)} is not a regular file but a socket; "
                                      "it was not opened") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{posixpath.basename(path)} is not a regular file but a {file_kind(mode)}; "
                                      "it was not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class Bucket:
    """A folder or fsspec URL with safe, atomic access.

    url: ``/path/to/dir``, ``file:///path``, ``s3://bucket/prefix``, ``memory://x``.
    storage_options: passed to fsspec (e.g. ``{"endpoint_url": ...}`` for S3). Credentials come
    from the environment by default and are never logged.
    """

    def __init__(self, url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None):
        url = str(url)
        self.fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        self.root = root.rstrip("/") if root not in ("/", "") else root
        self.url = url.rstrip("/")
        self.is_local = "file" in _protocols(self.fs)

    def __repr__(self) -> str:
        return f"Bucket({self.url!r})"

    def path(self, key: str) -> str:
        """The filesystem path of a validated key."""
        return posixpath.join(self.root, safe_key(key)) if self.root else safe_key(key)

    def uri(self, key: str) -> str:
        """A user-facing location for ``key`` (local path or ``proto://`` URL)."""
        path = self.path(key)
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def list_entries(self, prefix: str = "", *, withdirs: bool = False) -> dict[str, dict[str, Any]]:
        """Every entry under ``prefix`` (recursive): key -> fsspec info (``size``, ``type``, ``ETag``
        or ``mtime``, ...), keys relative to the bucket root, sorted, raw (the caller validates them).

        One listing, never a cached one. Nothing is hidden here: the batch's listing rule
        (:mod:`pipeline.batch.plan`) decides what is an item. Local symbolic links are listed as
        themselves (``islink``), never followed into a folder; ``withdirs`` adds folders.
        """
        prefix = prefix.strip("/")
        base = posixpath.join(self.root, safe_key(prefix)) if prefix else self.root
        if hasattr(self.fs, "invalidate_cache"):
            self.fs.invalidate_cache(base)
        if not self.fs.exists(base):
            return {}
        found = self.fs.find(base, detail=True, withdirs=withdirs)
        out = {}
        for full, info in found.items():
            rel = full[len(self.root) :].lstrip("/") if self.root else full
            if rel and (prefix == "" or rel == prefix or rel.startswith(prefix + "/")):
                out[rel] = info
        return dict(sorted(out.items()))

    def list_keys(self, prefix: str = "", suffixes: tuple[str, ...] | None = None) -> list[str]:
        """Keys under ``prefix`` (recursive, sorted, relative to the bucket root), by suffix when given.

        Keys in folders whose name starts with ``_`` or ``.`` (``_ledger``, ``_ground_truth``,
        ``.git``: :func:`hidden_folder`) are left out. Keys are returned raw, unvalidated.
        """
        return [key for key in self.list_entries(prefix)
                if hidden_folder(key) is None and (suffixes is None or key.lower().endswith(suffixes))]

    def list_images(self, prefix: str = "") -> list[str]:
        """Keys of image files under ``prefix``, by extension."""
        return self.list_keys(prefix, IMAGE_SUFFIXES)

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.path(key)))

    def checked_path(self, key: str) -> str:
        """:meth:`path`, refusing (``UnsafeKeyError``) a local symlink that leads out of the bucket."""
        path = self.path(key)
        if self.is_local:
            real, root = os.path.realpath(path), os.path.realpath(self.root or os.sep)
            if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
                raise UnsafeKeyError(f"{safe_key(key)} is a symbolic link to a file outside the source folder")
        return path

    @contextlib.contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]:
        """A binary reader for ``key``. Local files: symlinks out of the bucket are refused
        (``UnsafeKeyError``) and anything but a regular file is refused before a byte is read
        (``NotRegularFileError``: a FIFO must not hang the batch)."""
        path = self.checked_path(key)
        with (_open_regular(path) if self.is_local else self.fs.open(path, "rb")) as fh:
            yield fh

    def read_bytes(self, key: str, max_bytes: int | None = None, size: int | None = None) -> bytes:
        """The object's bytes, read with :meth:`open_read`. Over ``max_bytes``:
        :class:`InputTooLargeError` (from ``size`` when the caller knows it from a listing, else
        from one size lookup, before reading)."""
        if max_bytes is not None:
            if size is None:
                size = self.fs.size(self.checked_path(key))
            if size is not None and size > max_bytes:
                raise InputTooLargeError(f"file too large: {size} bytes > limit {max_bytes}", size, max_bytes)
        with self.open_read(key) as fh:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise InputTooLargeError(f"file too large: more than {max_bytes} bytes", None, max_bytes)
        return data

    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` at ``key`` atomically; return :meth:`uri` of the written object."""
        path = self.path(key)
        if self.is_local:
            atomic_write_file(Path(path), data)
        else:
            self.fs.pipe_file(path, data)
        return self.uri(key)

    def write_text(self, key: str, text: str) -> str:
        return self.write_bytes(key, text.encode("utf-8"))

    def delete(self, key: str) -> None:
        path = self.path(key)
        if self.fs.exists(path):
            self.fs.rm_file(path)

    def move(self, src_key: str, dst_key: str) -> None:
        """Move an object (copy then delete on object stores); creates local folders."""
        dst = self.path(dst_key)
        if self.is_local:
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
        self.fs.mv(self.path(src_key), dst)


def options_for_url(url: str, storage_options: dict[str, Any] | None) -> dict[str, Any] | None:
    """Storage options (an S3 endpoint, say) apply to remote URLs only, never to a local folder."""
    remote = "://" in str(url) and not str(url).startswith(("file://", "local://"))
    return storage_options if remote else None


def dest_inside_source(source: Bucket, dest: Bucket, prefix: str = "") -> bool:
    """True when ``dest`` lies inside ``source`` (under ``prefix`` when given) on one filesystem:
    a listing of the source would then pick up the outputs."""
    if type(source.fs) is not type(dest.fs):
        return False
    watched = source.path(prefix) if prefix.strip("/") else source.root
    if source.is_local:
        watched, inside = os.path.realpath(watched or os.sep), os.path.realpath(dest.root or os.sep)
    else:
        inside = dest.root
    return (inside.rstrip("/") + "/").startswith(watched.rstrip("/") + "/")


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def atomic_write_file(path: Path, data: bytes) -> None:
    """Write to a temp file beside ``path``, fsync, then ``os.replace`` it into place.

    Readers see the old file or the new one, never a part; a crash leaves at most a
    ``.<name, first 64 characters>.*.part`` temp file, never a truncated output.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:TEMP_NAME_CHARS]}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def delete_prefix(bucket: Bucket, prefix: str) -> None:
    """Remove every object under ``prefix`` (a validated key)."""
    path = bucket.path(prefix)
    if bucket.fs.exists(path):
        bucket.fs.rm(path, recursive=True)
    if hasattr(bucket.fs, "invalidate_cache"):
        bucket.fs.invalidate_cache(path)


def open_buckets(source_url: str, dest_url: str, storage_options: dict[str, Any] | None) -> tuple[Bucket, Bucket]:
    """Source and destination buckets; storage options go to remote URLs only."""
    return (Bucket(source_url, options_for_url(source_url, storage_options)),
            Bucket(dest_url, options_for_url(dest_url, storage_options)))
