"""Which storage errors are worth a retry: one rule for the batch engine, the ledger, the flows
and review (connection, timeout, 5xx, throttling: transient; bad input, missing objects and
access denied: permanent)."""

from __future__ import annotations

import errno

from pipeline.errors import PipelineError


def s3_error_code(exc: BaseException) -> str | None:
    """The S3 error code behind an s3fs/botocore exception, if any."""
    for err in (exc, exc.__cause__, exc.__context__):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            error = response.get("Error") or {}
            code = str(error.get("Code") or "")
            status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            return code or (str(status) if status else None)
    return None


_TRANSIENT_S3_CODES = frozenset({
    "500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
    "RequestTimeTooSkewed", "Throttling", "ThrottlingException", "OperationAborted",
})


# Local file-system errors that say something about the file, not the moment: retrying gives the
# same answer (a symlink loop, a name too long, a device with no reader, a read-only file system).
_PERMANENT_ERRNOS = frozenset({
    errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG,
    errno.ENXIO, errno.ENODEV, errno.EINVAL, errno.EROFS, errno.EFBIG, errno.EOVERFLOW,
})


def is_transient_error(exc: BaseException) -> bool:
    """True for storage hiccups worth a retry (connection, timeout, 5xx, throttling); False for
    bad input (``ValueError``, pipeline errors), missing objects, access denied and local
    file-system errors about the file itself (``_PERMANENT_ERRNOS``: a symlink loop, a name too long)."""
    if isinstance(exc, (PipelineError, ValueError, TypeError, KeyError, FileNotFoundError, PermissionError,
                        IsADirectoryError, NotADirectoryError, RecursionError, ArithmeticError)):
        return False
    code = s3_error_code(exc)
    if code is not None:
        return code in _TRANSIENT_S3_CODES
    if isinstance(exc, OSError) and not isinstance(exc, (TimeoutError, ConnectionError)) \
            and exc.errno in _PERMANENT_ERRNOS:
        return False
    if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
        return True
    module = type(exc).__module__
    return module.startswith(("botocore", "aiobotocore", "aiohttp", "urllib3"))
