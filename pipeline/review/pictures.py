"""A version's files for the review page: its meta.json, its pictures, and the overlays drawn from
them (mask outline, ΔE00 heat map), read safely from its home folder and cached.

Every path goes through :class:`pipeline.review.folder.BatchFolder` (no ``..``, no symlink out of
the home folder). Overlays are cached by what they are made of (a file's size and mtime/ETag, a
composite's sha256), so a rerun never shows a stale picture.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.catalogue.homes import MAX_META_BYTES
from pipeline.catalogue.model import composite_for
from pipeline.config import ScoreConfig
from pipeline.errors import UnsafeKeyError
from pipeline.io.imageio import decode_image, encode_png
from pipeline.io.storage import Bucket
from pipeline.place.placement import map_box
from pipeline.review.folder import BatchFolder, item_file
from pipeline.review.views import delta_e_heatmap, delta_e_map, mask_edge_overlay, mask_in_frame, product_core
from pipeline.types import Placement

MAX_IMAGE_BYTES = 256 << 20
CACHE_ITEMS = 48  # overlays kept in memory (a few hundred kB each at 1 MP)


class VersionFiles:
    """Files of the versions under one destination. Thread-safe (the server uses a thread pool)."""

    def __init__(self, dest: Bucket):
        self.dest = dest
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def folder(self, home: str) -> BatchFolder:
        return BatchFolder(self.dest, home)

    def read(self, home: str, rel: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
        """A file of a home; ``UnsafeKeyError`` for paths that escape it, ``FileNotFoundError``."""
        return self.folder(home).read_bytes(rel, max_bytes=max_bytes)

    def exists(self, home: str, rel: str) -> bool:
        try:
            return self.folder(home).exists(rel)
        except UnsafeKeyError:
            return False

    def meta(self, version: dict[str, Any]) -> dict[str, Any]:
        """The version's meta.json ({} when it has none or it cannot be read)."""
        try:
            meta = self.folder(version["home"]).read_json(item_file(version["item"], "meta.json"),
                                                          max_bytes=MAX_META_BYTES)
        except (FileNotFoundError, ValueError, UnsafeKeyError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def frame(self, meta: dict[str, Any]) -> tuple[list[int] | None, list[list[int]]]:
        """(the composite's [h, w], logo boxes in its pixels) from meta.json's placement."""
        placement = placement_of(meta)
        if placement is None:
            return None, []
        boxes = []
        for box in meta.get("logo_boxes_input") or []:
            try:
                x0, y0, x1, y1 = map_box(tuple(int(v) for v in box), placement)
            except (TypeError, ValueError):
                continue
            if x1 > x0 and y1 > y0:
                boxes.append([x0, y0, x1, y1])
        return list(placement.out_hw), boxes

    # ------------------------------------------------------------------ overlays
    def _cached(self, key: tuple, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = make()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_ITEMS:
                self._cache.popitem(last=False)
        return value

    def _frame_mask(self, version: dict[str, Any]) -> np.ndarray:
        placement = placement_of(self.meta(version))
        if placement is None:
            raise FileNotFoundError(f"{version['id']}: meta.json has no placement")
        data = self.read(version["home"], item_file(version["item"], "mask.png"))
        mask = decode_image(data, name="mask.png").rgb[..., 0]
        return mask_in_frame(mask, placement.matrix, placement.out_hw)

    def edges_png(self, version: dict[str, Any]) -> bytes:
        """The mask outline in the composite's frame, RGBA PNG (see :func:`mask_edge_overlay`)."""
        stamp = self._stamp(version["home"], item_file(version["item"], "mask.png"))
        return self._cached(("edges", version["id"], stamp),
                            lambda: encode_png(mask_edge_overlay(self._frame_mask(version))))

    def heat_png(self, version: dict[str, Any], variant: int | None) -> bytes:
        """ΔE00 of the composite against original.png over the product's interior, RGBA PNG."""
        rel, sha = composite_for(version, variant)
        if rel is None:
            raise FileNotFoundError(f"{version['id']} has no composite for variant {variant}")

        def make() -> bytes:
            composite = decode_image(self.read(version["home"], rel), name=rel).rgb
            original = decode_image(self.read(version["home"], item_file(version["item"], "original.png")),
                                    name="original.png").rgb
            core = product_core(self._frame_mask(version), ScoreConfig().edge_erode_px)
            return encode_png(delta_e_heatmap(delta_e_map(composite, original, core)))

        return self._cached(("heat", version["id"], sha), make)

    def _stamp(self, home: str, rel: str) -> str:
        folder = self.folder(home)
        try:
            info = self.dest.fs.info(self.dest.path(folder.key(rel)))
        except FileNotFoundError:
            raise FileNotFoundError(rel) from None
        return str((info.get("size"), info.get("mtime") or info.get("ETag") or info.get("LastModified")))


def placement_of(meta: dict[str, Any]) -> Placement | None:
    p = meta.get("placement")
    if not isinstance(p, dict):
        return None
    try:
        return Placement(matrix=np.asarray(p["matrix"], np.float64), out_hw=tuple(int(v) for v in p["out_hw"]),
                         box_xyxy=tuple(int(v) for v in p["box_xyxy"]), horizon_y=0)
    except (KeyError, TypeError, ValueError):
        return None
