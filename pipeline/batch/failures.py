"""What went wrong with one item: errors classified once, by type, and the one error-record builder.

The CLI, the worker processes and the Prefect flow all turn exceptions into report rows here:

- ``transient``: a storage hiccup (:func:`~pipeline.io.transient.is_transient_error`). The flow
  retries it; whatever still fails (and any in the CLI) is an error row that is *not* committed,
  so the next run tries the item again.
- ``input``: the file (or its sidecar) is unusable: a pipeline error, a ``ValueError``, a file
  that cannot be read (permissions, a broken link, a folder, too large), a too-deep structure.
  Committed: recorded once, tried again only when the file changes.
- ``internal``: anything else is a bug; the item still gets its row ("internal error: ...") and
  the traceback goes to the log, and the batch goes on.

Every reason is one line, names the file when the problem is reading it, and names the sidecar
and its field for sidecar problems (:mod:`pipeline.place.sidecar`).
"""

from __future__ import annotations

import errno
import logging
from typing import Literal

from pipeline.errors import NotRegularFileError, PipelineError, SidecarError, UnsafeKeyError
from pipeline.io.transient import is_transient_error
from pipeline.redact import redact
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)

Kind = Literal["transient", "input", "internal"]
MAX_REASON_CHARS = 300
_READ_ERRORS = {  # errno -> what a shop person reads
    errno.EACCES: "permission denied", errno.EPERM: "permission denied",
    errno.ENOENT: "it is gone (deleted, moved, or a broken link)", errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of its path is not a folder", errno.ELOOP: "a symbolic link loop",
    errno.ENAMETOOLONG: "its name is too long for this file system",
}


def classify(exc: BaseException) -> Kind:
    """``transient`` (retry), ``input`` (the file's fault: record once) or ``internal`` (a bug)."""
    if is_transient_error(exc):
        return "transient"
    if isinstance(exc, PipelineError | ValueError | OSError | RecursionError | OverflowError | MemoryError):
        return "input"
    return "internal"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def describe(exc: BaseException, key: str) -> str:
    """The one-line reason for ``exc`` while handling ``key``."""
    message = _one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, UnsafeKeyError):
        return f"rejected key: {message}"
    if isinstance(exc, SidecarError | NotRegularFileError):
        return message
    if isinstance(exc, PipelineError | ValueError):
        return message
    if isinstance(exc, OSError) and classify(exc) != "transient":
        what = _READ_ERRORS.get(exc.errno or -1) or _one_line(exc.strerror or message)
        return f"could not read {key}: {what}"
    if isinstance(exc, MemoryError):
        return f"out of memory while processing {key}: the image is too large for this machine"
    if classify(exc) == "transient":
        return f"storage error, tried again on the next run: {type(exc).__name__}: {message}"
    return f"internal error: {type(exc).__name__}: {message}"


def error_record(item_id: str, key: str, exc: BaseException, content_hash: str | None = None) -> ItemRecord:
    """The ``error`` row of ``key`` for ``exc`` (internal errors log their traceback here)."""
    reason = redact(describe(exc, key))
    if classify(exc) == "internal":
        log.error("internal error on %s: %s", redact(key), reason, exc_info=exc)
    else:
        log.warning("item %s failed: %s", redact(key), reason)
    return ItemRecord(id=item_id, source=key, status="error", error=reason, content_hash=content_hash)


def problem_record(item_id: str, key: str, problem: str) -> ItemRecord:
    """The ``error`` row of a key the plan decided not to open (``Planned.problem``)."""
    log.warning("item %s: %s", redact(key), problem)
    return ItemRecord(id=item_id, source=key, status="error", error=redact(f"{key}: {problem}"))
