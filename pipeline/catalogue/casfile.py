"""One JSON object in a bucket, updated with compare-and-swap (catalogue shards, published.json).

Built on the ledger's conditional store (:mod:`pipeline.io.conditional_store`): the first write is
create-if-absent, every later one a replace on the version that was read. A writer that loses
the race reads again and re-applies its change, so concurrent writers never lose each other's
updates. Readers see the old object or the new one, never a part. A change that leaves the
object as it was writes nothing (a second run of anything idempotent touches no file).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pipeline.io.conditional_store import ConditionalStore

MAX_TRIES = 50
BACKOFF_S = 0.002  # per lost race, growing linearly, capped at BACKOFF_MAX_S
BACKOFF_MAX_S = 0.2


class ConflictError(RuntimeError):
    """The write kept losing compare-and-swap races (``MAX_TRIES``); nothing was written."""


def dump_json(doc: Any, *, compact: bool = False) -> bytes:
    """Canonical bytes (sorted keys, UTF-8): equal objects give equal bytes."""
    if compact:
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8")


class CasJsonFile:
    """``key`` in ``store`` holding a JSON object; ``empty()`` is its value before the first write.

    ``validate(doc)`` raises ``ValueError`` for a file that is not what it should be (it is then
    never overwritten). ``compact``: no indentation (large machine-read files)."""

    def __init__(self, store: ConditionalStore, key: str, empty: Callable[[], dict[str, Any]],
                 validate: Callable[[Any], None] | None = None, *, compact: bool = False):
        self.store, self.key, self.empty, self.validate, self.compact = store, key, empty, validate, compact

    def read(self) -> tuple[dict[str, Any], str | None]:
        """(the object, its version); (``empty()``, None) when the file does not exist."""
        doc, version, _ = self._read()
        return doc, version

    def _read(self) -> tuple[dict[str, Any], str | None, bytes | None]:
        found = self.store.get(self.key)
        if found is None:
            return self.empty(), None, None
        return self.parse(found[0]), found[1], found[0]

    def parse(self, data: bytes) -> dict[str, Any]:
        """The object in ``data``; ``ValueError`` naming the file when it is damaged."""
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise ValueError(f"{self.key} is not valid JSON ({exc}); fix or move it away, "
                             "nothing was overwritten") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{self.key} does not hold a JSON object; nothing was overwritten")  # noqa: TRY004
        if self.validate is not None:
            self.validate(doc)
        return doc

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` (mutates the object in place) and write it; returns the object as it
        is now. Nothing is written when ``change`` left it equal."""
        for attempt in range(MAX_TRIES):
            doc, version, raw = self._read()
            change(doc)
            data = dump_json(doc, compact=self.compact)
            if raw is not None and data == raw:  # what this class writes is canonical: unchanged
                return doc
            written = self.store.create(self.key, data) if version is None else self.store.replace(self.key, data,
                                                                                                   version)
            if written is not None:
                return doc
            time.sleep(min(BACKOFF_MAX_S, BACKOFF_S * (attempt + 1)))  # lost a race: read again and re-apply
        raise ConflictError(f"{self.key} kept changing under us ({MAX_TRIES} tries); nothing was written")
