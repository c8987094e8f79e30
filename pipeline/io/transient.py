"""Which storage errors are worth a retry: one rule for the batch engine, the ledger, the flows
and review (connection, timeout, 5xx, throttling: transient; bad input, missing objects and
access denied: permanent)."""

from __future__ import annotations

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


def is_transient_error(exc: BaseException) -> bool:
    """True for storage hiccups worth a retry (connection, timeout, 5xx, throttling); False for
    bad input (``ValueError``, pipeline errors), missing objects and access denied."""
    if isinstance(exc, (PipelineError, ValueError, TypeError, KeyError, FileNotFoundError, PermissionError,
                        IsADirectoryError, NotADirectoryError)):
        return False
    code = s3_error_code(exc)
    if code is not None:
        return code in _TRANSIENT_S3_CODES
    if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
        return True
    module = type(exc).__module__
    return module.startswith(("botocore", "aiobotocore", "aiohttp", "urllib3"))
