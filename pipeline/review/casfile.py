"""One JSON object in a bucket, updated with compare-and-swap (decisions.json, published.json).

Built on the ledger's conditional store (:mod:`pipeline.io.conditional_store`): the first write is
create-if-absent, every later one a replace on the version that was read. A writer that loses
the race reads again and re-applies its change, so concurrent writers never lose each other's
updates. Readers see the old object or the new one, never a part.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pipeline.io.conditional_store import ConditionalStore

MAX_TRIES = 50


class ConflictError(RuntimeError):
    """The write kept losing compare-and-swap races (``MAX_TRIES``); nothing was written."""


class CasJsonFile:
    """``key`` in ``store`` holding a JSON object; ``empty()`` is its value before the first write.

    ``validate(doc)`` raises ``ValueError`` for a file that is not what it should be (it is then
    never overwritten)."""

    def __init__(self, store: ConditionalStore, key: str, empty: Callable[[], dict[str, Any]],
                 validate: Callable[[Any], None] | None = None):
        self.store, self.key, self.empty, self.validate = store, key, empty, validate

    def read(self) -> tuple[dict[str, Any], str | None]:
        """(the object, its version); (``empty()``, None) when the file does not exist."""
        found = self.store.get(self.key)
        if found is None:
            return self.empty(), None
        try:
            doc = json.loads(found[0])
        except ValueError as exc:
            raise ValueError(f"{self.key} is not valid JSON ({exc}); fix or move it away, "
                             "nothing was overwritten") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{self.key} does not hold a JSON object; nothing was overwritten")
        if self.validate is not None:
            self.validate(doc)
        return doc, found[1]

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` (mutates the object in place) and write it; returns what was written."""
        for attempt in range(MAX_TRIES):
            doc, version = self.read()
            change(doc)
            data = json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8")
            written = self.store.create(self.key, data) if version is None else self.store.replace(self.key, data,
                                                                                                   version)
            if written is not None:
                return doc
            time.sleep(min(0.2, 0.002 * (attempt + 1)))  # lost a race: read again and re-apply
        raise ConflictError(f"{self.key} kept changing under us ({MAX_TRIES} tries); nothing was written")
