"""What the ledger stores: lease bodies and done records, as JSON bytes."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pipeline.ledger.owners import Owner
from pipeline.redact import redact
from pipeline.types import ItemRecord


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as stored: owner, expiry (epoch seconds), where its holder writes."""

    name: str
    owner: Owner
    acquired_at: float
    expires_at: float
    output_prefix: str | None = None
    batch_id: str | None = None
    source_key: str | None = None
    orphans: tuple[str, ...] = ()

    def stale(self, now: float | None = None) -> bool:
        """Expired, or held by a process on this machine that no longer exists."""
        return (now or time.time()) > self.expires_at or self.owner.alive() is False

    def to_bytes(self) -> bytes:
        body = {
            "name": self.name, "owner": self.owner.as_json(), "acquired_at": self.acquired_at,
            "expires_at": self.expires_at, "output_prefix": self.output_prefix, "batch_id": self.batch_id,
            "source_key": self.source_key, "orphans": list(self.orphans), "nonce": uuid.uuid4().hex,
        }
        return redact(json.dumps(body, sort_keys=True)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LeaseInfo | None:
        try:
            d = json.loads(data)
            return cls(str(d["name"]), Owner.from_json(d["owner"]), float(d["acquired_at"]),
                       float(d["expires_at"]), d.get("output_prefix"), d.get("batch_id"),
                       d.get("source_key"), tuple(d.get("orphans") or ()))
        except (ValueError, KeyError, TypeError):
            return None


DECISIONS_FILE = "decisions.json"  # DEST/<batch_id>/decisions.json: reviewers' decisions before the catalogue (read only)
DECISIONS_DIR = "_decisions"  # DEST/<batch_id>/_decisions/<item_id>/: the item's decisions, a file each (pipeline.catalogue)


@dataclass(frozen=True)
class DoneRecord:
    """A committed item: where its outputs are and what the pipeline said about it."""

    name: str
    content_hash: str
    config_hash: str
    source_key: str
    batch_id: str
    output_prefix: str | None
    status: str
    record: dict[str, Any]
    committed_at: float
    owner: dict[str, Any] = field(default_factory=dict)
    decisions: str | None = None  # DEST prefix of the item's review decisions (pipeline.catalogue; may not exist yet)

    def to_bytes(self) -> bytes:
        return redact(json.dumps(self.__dict__, sort_keys=True, default=str)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DoneRecord:
        d = json.loads(data)
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


def record_from_json(data: dict[str, Any]) -> ItemRecord:
    """Rebuild an :class:`ItemRecord` from ``ItemRecord.as_json()`` (thumbnails are not kept)."""
    return ItemRecord(
        id=data["id"], source=data["source"], status=data["status"], error=data.get("error"),
        verdict=data.get("verdict"), reasons=tuple(data.get("reasons") or ()), metrics=data.get("metrics"),
        outputs=dict(data.get("outputs") or {}), timings_ms=dict(data.get("timings_ms") or {}),
        content_hash=data.get("content_hash"), backends=dict(data.get("backends") or {}),
        fallbacks=dict(data.get("fallbacks") or {}),
        duplicate_of=data.get("duplicate_of"), notes=tuple(data.get("notes") or ()),
    )


# ----------------------------------------------------------------------------- leases
