"""Errors classified once, by type, for the CLI and the flow; one error-row builder."""

from __future__ import annotations

import errno
import logging

import pytest

from pipeline.batch.failures import classify, describe, error_record
from pipeline.errors import (
    ImageDecodeError,
    InputTooLargeError,
    NotRegularFileError,
    SegmentationError,
    SidecarError,
    UnsafeKeyError,
)
from pipeline.ledger import TransientItemError


@pytest.mark.parametrize("exc,kind,reason", [
    (ConnectionResetError("reset by peer"), "transient",
     "storage error, tried again on the next run: ConnectionResetError: reset by peer"),
    (TimeoutError("read timed out"), "transient", "storage error, tried again on the next run: TimeoutError"),
    (TransientItemError("outputs missing after write"), "transient", "storage error, tried again on the next run"),
    (OSError(errno.EIO, "Input/output error"), "transient", "storage error"),
    (PermissionError(errno.EACCES, "Permission denied"), "input", "could not read a.jpg: permission denied"),
    (FileNotFoundError(errno.ENOENT, "No such file"), "input", "could not read a.jpg: it is gone"),
    (IsADirectoryError(errno.EISDIR, "Is a directory"), "input", "could not read a.jpg: it is a folder"),
    (OSError(errno.ELOOP, "Too many levels of symbolic links"), "input", "could not read a.jpg: a symbolic link loop"),
    (OSError(errno.ENAMETOOLONG, "File name too long"), "input", "could not read a.jpg: its name is too long"),
    (UnsafeKeyError("object key climbs out"), "input", "rejected key: object key climbs out"),
    (ImageDecodeError("truncated JPEG: x"), "input", "truncated JPEG: x"),
    (InputTooLargeError("file too large: 9 bytes > limit 8", 9, 8), "input", "file too large: 9 bytes > limit 8"),
    (SegmentationError("no product found"), "input", "no product found"),
    (SidecarError("sidecar a.json: field sku: bad"), "input", "sidecar a.json: field sku: bad"),
    (NotRegularFileError("a.jpg is not a regular file but a socket"), "input", "a.jpg is not a regular file"),
    (ValueError("bad\nvalue"), "input", "bad value"),
    (RecursionError("maximum recursion depth exceeded"), "input", "maximum recursion depth exceeded"),
    (OverflowError("cannot convert float infinity to integer"), "input", "cannot convert float infinity"),
    (KeyError("a bug"), "internal", "internal error: KeyError: 'a bug'"),
    (TypeError("unsupported operand"), "internal", "internal error: TypeError: unsupported operand"),
])
def test_one_classification_and_one_line_reason(exc, kind, reason):
    assert classify(exc) == kind
    text = describe(exc, "a.jpg")
    assert text.startswith(reason) or reason in text, text
    assert "\n" not in text


def test_error_rows_log_tracebacks_only_for_bugs(caplog):
    caplog.set_level(logging.DEBUG)
    try:
        {}["a bug"]
    except KeyError as exc:
        bug = exc
    row = error_record("id", "a.jpg", bug)
    assert row.status == "error" and row.error == "internal error: KeyError: 'a bug'" and row.source == "a.jpg"
    assert [r.exc_info is not None for r in caplog.records] == [True]
    caplog.clear()
    error_record("id", "b.jpg", ImageDecodeError("corrupt PNG: x"))
    assert [r.exc_info for r in caplog.records] == [None]
    long = error_record("id", "c.jpg", ValueError("x" * 5000))
    assert len(long.error) <= 300
