"""What re-renders one batch version for a fix: the photo's bytes, its sidecar, the config, the seed;
and the stages, built once per process.

- The photo comes from the batch's SOURCE (``product-scene review DEST --source SOURCE``), read
  the way the batch read it and checked against the sha256 the batch recorded (``meta.json``'s
  ``content_sha256``): clicks are tied to those exact bytes.
- The config is the one the batch recorded in the item's ``meta.json`` (``config``). A batch
  written before items recorded it can be fixed when it used the default config (its
  ``config_hash`` says so); any other is refused with what to do.
- The seed is the item's own (``meta.json``'s ``seed``): the re-render is the batch's, with the
  fixed cut-out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from pipeline.compose import Stages, build_stages
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError, UnsafeKeyError
from pipeline.io.imageio import decode_image
from pipeline.io.storage import Bucket, safe_key
from pipeline.ledger.identities import sidecar_key
from pipeline.models.fingerprints import config_hash
from pipeline.place.sidecar import MAX_BYTES as MAX_SIDECAR_BYTES
from pipeline.place.sidecar import parse_sidecar
from pipeline.redact import redact
from pipeline.segment.refine import Refiner, build_refiner, photo_sha256
from pipeline.types import DecodedImage

log = logging.getLogger(__name__)


class FixError(Exception):
    """A fix request that cannot be done; the message says why in one line."""


class NotFixable(FixError):
    """This version cannot be fixed here (an error item, no photos, the photo changed, no config)."""


@dataclass(frozen=True)
class FixInputs:
    """name: the source key; data: the photo's bytes (sha256 ``photo_sha256``); decoded: the
    photo as the batch decoded it; sidecar: its parsed sidecar (None without one); config, its
    hash; seed: the item's; notes: what a reviewer should know about the re-render."""

    name: str
    data: bytes
    photo_sha256: str
    decoded: DecodedImage
    sidecar: Mapping[str, Any] | None
    config: PipelineConfig
    config_hash: str
    seed: int
    notes: tuple[str, ...] = ()


def config_of(meta: Mapping[str, Any]) -> tuple[PipelineConfig, str, tuple[str, ...]]:
    """(config, its hash here, notes) a version was made with, from its ``meta.json``;
    :class:`NotFixable` when it cannot be known."""
    raw = meta.get("config")
    recorded = meta.get("config_hash")
    if isinstance(raw, dict):
        try:
            config = PipelineConfig.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {}
            raise NotFixable(f"the config this batch recorded is not valid here ({'.'.join(map(str, first.get('loc', ())))}"
                             f": {first.get('msg', exc)}); rerun the batch with this version of product-scene") from None
        here = config_hash(config)
        differs = (f"This server re-renders with the batch's config, but its themes, weights or product-scene "
                   f"version differ from the batch's (config {here} here, {recorded} then): the new composite may "
                   "differ beyond the cut-out.")
        notes = () if recorded in (None, here) else (differs,)
        return config, here, notes
    config = PipelineConfig()
    here = config_hash(config)
    if recorded != here:
        raise NotFixable("this batch was written before items recorded their config, and not with the default one: "
                         "rerun it (product-scene run SOURCE DEST --reprocess, with its config) to fix its cut-outs here")
    return config, here, ()


def load_inputs(source: Bucket | None, version: Mapping[str, Any], meta: Mapping[str, Any]) -> FixInputs:
    """The inputs that re-render batch ``version`` (``meta``: its meta.json); :class:`NotFixable`
    with the reason when the photo or the config cannot be had."""
    if source is None:
        raise NotFixable("this review server has no photos to fix: start it with "
                         "`product-scene review DEST --source SOURCE` (the folder or URL the batch read)")
    config, chash, notes = config_of(meta)
    seed = meta.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise NotFixable(f"{version.get('id')}: its meta.json records no seed; rerun the batch")
    try:
        key = safe_key(str(version.get("source") or ""))
        data = source.read_bytes(key, max_bytes=config.decode.max_bytes)
    except UnsafeKeyError as exc:
        raise NotFixable(f"the photo's key cannot be read safely: {exc}") from None
    except FileNotFoundError:
        raise NotFixable(f"the photo {version.get('source')} is not in {redact(source.url)}: is --source the "
                         "folder the batch read?") from None
    except (PipelineError, OSError) as exc:
        raise NotFixable(f"the photo {version.get('source')} cannot be read: {exc}") from None
    sha = photo_sha256(data)
    if meta.get("content_sha256") not in (None, sha):
        raise NotFixable(f"the photo {key} changed since this batch (its bytes are not the ones this version was "
                         "made from): rerun the batch, then fix the new version")
    try:
        decoded = decode_image(data, name=key, config=config.decode)
        sidecar = _read_sidecar(source, key)
    except (PipelineError, ValueError, OSError) as exc:
        raise NotFixable(f"{key} cannot be re-rendered here: {exc}") from None
    return FixInputs(key, data, sha, decoded, sidecar, config, chash, seed, notes)


def _read_sidecar(source: Bucket, key: str) -> dict[str, Any] | None:
    skey = sidecar_key(key)
    if skey == key or not source.exists(skey):
        return None
    return parse_sidecar(source.read_bytes(skey, max_bytes=MAX_SIDECAR_BYTES), skey)


class StageCache:
    """Stages and refiners built once per process, per config hash; one render at a time per
    stages (a backend holding a model is not thread-safe). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, tuple[Stages, threading.Lock]] = {}
        self._refiners: dict[tuple[str, str], Refiner] = {}

    def stages(self, config: PipelineConfig, chash: str) -> tuple[Stages, threading.Lock]:
        """(stages, the lock to hold while using them) for ``config`` (hash ``chash``)."""
        with self._lock:
            if chash not in self._stages:
                log.info("building the stages for config %s (once per review server)", chash)
                self._stages[chash] = (build_stages(config), threading.Lock())
            return self._stages[chash]

    def refiner(self, config: PipelineConfig, chash: str, mask_backend: str) -> Refiner:
        """The refiner for masks of ``mask_backend`` under ``config`` (SAM loads once)."""
        with self._lock:
            key = (chash, mask_backend)
            if key not in self._refiners:
                self._refiners[key] = build_refiner(config, mask_backend)
            return self._refiners[key]
