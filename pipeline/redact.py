"""Keep credentials out of logs, artifacts, reports and ledger records.

:func:`redact` replaces every known secret value in a string with ``***``: the values of the
credential environment variables (:data:`SECRET_ENV_VARS`), values registered with
:func:`register_secret` (e.g. secret-looking ``storage_options`` entries), and the
``user:password@`` part of URLs. :class:`RedactingFilter` applies it to log records.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

SECRET_ENV_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "HF_TOKEN",
)
SECRET_OPTION_RE = re.compile(r"(secret|password|passwd|token|credential|key)", re.IGNORECASE)
NON_SECRET_OPTIONS = frozenset({"endpoint_url", "region_name", "key_prefix"})
MIN_SECRET_LEN = 4
_URL_USERINFO_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember ``value`` (a credential) so :func:`redact` hides it from now on."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_LEN:
        with _lock:
            _registered.add(value)


def register_storage_options(options: Mapping[str, Any] | None) -> None:
    """Register every secret-looking string in ``options`` (nested dicts included)."""
    for name, value in (options or {}).items():
        if isinstance(value, Mapping):
            register_storage_options(value)
        elif isinstance(value, str) and name not in NON_SECRET_OPTIONS and SECRET_OPTION_RE.search(name):
            register_secret(value)


def _secrets() -> list[str]:
    values = {os.environ.get(name, "") for name in SECRET_ENV_VARS}
    with _lock:
        values |= _registered
    return sorted((v for v in values if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with secret values and URL credentials replaced by ``***``."""
    if not isinstance(text, str) or not text:
        return text
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, "***")
    return _URL_USERINFO_RE.sub(r"\g<scheme>***@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that formats the message once and redacts it (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's problem, not ours
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(
    logger_names: tuple[str, ...] = ("", "prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.extra"),
) -> None:
    """Add a :class:`RedactingFilter` to every handler of these loggers (idempotent)."""
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
