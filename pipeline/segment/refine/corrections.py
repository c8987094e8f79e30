"""A reviewer's corrections to a cut-out, as plain data that can be stored with the item.

A :class:`Click` is one "keep" (this is product) or "remove" (this is backdrop) mark in
INPUT-image pixels: a point, or a brush polyline, with a radius. :class:`Corrections` is the
ordered list of clicks plus what they were made against: the photo's content sha256 (of its
bytes, as the batch's ``content_hash``), the segmentation backend and its version. It round-trips
through JSON (:meth:`Corrections.to_json` / :meth:`Corrections.from_json`), and parsing checks
every field, since a stored file is untrusted input.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["keep", "remove"]
KINDS: tuple[str, ...] = ("keep", "remove")
SCHEMA = "product-scene/corrections/1"
MAX_CLICKS = 200  # a stored record with more marks than this is refused (a person makes a handful)
MAX_POINTS_PER_STROKE = 2000  # brush polylines are simplified by the page long before this
MAX_RADIUS_PX = 500.0  # a brush wider than this is not a correction but a repaint
DEFAULT_RADIUS_PX = 3.0  # a plain click marks a small disc, about a fingertip on a 1 MP photo at 25%
_SHA = re.compile(r"^[0-9a-f]{64}$")


def photo_sha256(data: bytes) -> str:
    """The content hash corrections are tied to: sha256 of the photo's bytes (64 hex chars)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Click:
    """One mark. points: ((x, y), ...) in input-image pixels (x right, y down; one point = a click,
    several = a brush polyline through them); radius_px: the brush radius in input pixels."""

    kind: Kind
    points: tuple[tuple[float, float], ...]
    radius_px: float = DEFAULT_RADIUS_PX

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"click kind must be one of {KINDS}, got {self.kind!r}")
        if not 1 <= len(self.points) <= MAX_POINTS_PER_STROKE:
            raise ValueError(f"a click needs 1 to {MAX_POINTS_PER_STROKE} points, got {len(self.points)}")
        pts = tuple((float(x), float(y)) for x, y in self.points)
        if not all(math.isfinite(v) for p in pts for v in p):
            raise ValueError("click points must be finite numbers")
        if not (isinstance(self.radius_px, (int, float)) and 0.5 <= self.radius_px <= MAX_RADIUS_PX):
            raise ValueError(f"click radius must be in [0.5, {MAX_RADIUS_PX}] px, got {self.radius_px!r}")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "radius_px", float(self.radius_px))

    @classmethod
    def at(cls, kind: Kind, x: float, y: float, radius_px: float = DEFAULT_RADIUS_PX) -> Click:
        """A single-point click at (x, y)."""
        return cls(kind, ((x, y),), radius_px)

    def inside(self, height: int, width: int) -> bool:
        """True when every point lies on an image of ``height`` x ``width`` pixels."""
        return all(0 <= x < width and 0 <= y < height for x, y in self.points)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "points": [[round(x, 2), round(y, 2)] for x, y in self.points],
                "radius_px": round(self.radius_px, 2)}

    @classmethod
    def from_json(cls, data: Any) -> Click:
        if not isinstance(data, Mapping):
            raise ValueError(f"a click must be an object, got {type(data).__name__}")  # noqa: TRY004 - a stored record is parsed: every problem is a ValueError
        points = data.get("points")
        if not isinstance(points, Sequence) or isinstance(points, (str, bytes)):
            raise ValueError("click.points must be a list of [x, y] pairs")  # noqa: TRY004 - a stored record is parsed: every problem is a ValueError
        pairs = []
        for p in points:
            if not (isinstance(p, Sequence) and len(p) == 2 and all(isinstance(v, (int, float))
                                                                    and not isinstance(v, bool) for v in p)):
                raise ValueError(f"click.points must hold [x, y] number pairs, got {p!r}")
            pairs.append((p[0], p[1]))
        radius = data.get("radius_px", DEFAULT_RADIUS_PX)
        if isinstance(radius, bool) or not isinstance(radius, (int, float)):
            raise ValueError(f"click.radius_px must be a number, got {radius!r}")  # noqa: TRY004 - a stored record is parsed: every problem is a ValueError
        return cls(kind=data.get("kind"), points=tuple(pairs), radius_px=radius)


@dataclass(frozen=True)
class Corrections:
    """The clicks made on one photo, in order, and what they were made against.

    photo_sha256: sha256 hex of the photo's bytes (:func:`photo_sha256`).
    backend: the segmentation backend whose mask was corrected (``classical``, ``sam``, ``onnx``).
    backend_version: that backend's version (refinement method + package version, or the model's
    weights hash), so a stored fix says what produced it.
    """

    photo_sha256: str
    backend: str
    backend_version: str
    clicks: tuple[Click, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.photo_sha256, str) and _SHA.match(self.photo_sha256)):
            raise ValueError(f"photo_sha256 must be 64 lowercase hex characters, got {self.photo_sha256!r}")
        for name in ("backend", "backend_version"):
            value = getattr(self, name)
            if not (isinstance(value, str) and 0 < len(value) <= 200):
                raise ValueError(f"{name} must be a non-empty string (at most 200 characters), got {value!r}")
        if len(self.clicks) > MAX_CLICKS:
            raise ValueError(f"at most {MAX_CLICKS} clicks per photo, got {len(self.clicks)}")
        object.__setattr__(self, "clicks", tuple(self.clicks))
        object.__setattr__(self, "meta", dict(self.meta))

    def with_clicks(self, clicks: Sequence[Click]) -> Corrections:
        return Corrections(self.photo_sha256, self.backend, self.backend_version, tuple(clicks), self.meta)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``json.dumps`` it to store it with the item)."""
        return {"schema": SCHEMA, "photo_sha256": self.photo_sha256, "backend": self.backend,
                "backend_version": self.backend_version, "clicks": [c.as_json() for c in self.clicks],
                "meta": dict(self.meta)}

    @classmethod
    def from_json(cls, data: Any) -> Corrections:
        """Parse a stored record; ValueError with a one-line reason on anything malformed."""
        if not isinstance(data, Mapping):
            raise ValueError(f"corrections must be a JSON object, got {type(data).__name__}")  # noqa: TRY004 - a stored record is parsed: every problem is a ValueError
        if data.get("schema") != SCHEMA:
            raise ValueError(f"unknown corrections schema {data.get('schema')!r} (expected {SCHEMA!r})")
        clicks = data.get("clicks", [])
        if not isinstance(clicks, list):
            raise ValueError("corrections.clicks must be a list")  # noqa: TRY004 - a stored record is parsed: every problem is a ValueError
        if len(clicks) > MAX_CLICKS:
            raise ValueError(f"at most {MAX_CLICKS} clicks per photo, got {len(clicks)}")
        meta = data.get("meta", {})
        if not isinstance(meta, Mapping):
            raise ValueError("corrections.meta must be an object")  # noqa: TRY004 - a stored record is parsed: every problem is a ValueError
        return cls(photo_sha256=data.get("photo_sha256"), backend=data.get("backend"),
                   backend_version=data.get("backend_version"),
                   clicks=tuple(Click.from_json(c) for c in clicks), meta=meta)
