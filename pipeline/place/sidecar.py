"""The sidecar ``<name>.json`` next to a photo: a typed model, safe parsing, the logo boxes and the SKU it names.

A sidecar is a small JSON object a shop writes beside a photo::

    {"sku": "MUG-12", "category": "mug", "colour": "blue", "logo_boxes": [[x0, y0, x1, y1], ...]}

:class:`Sidecar` types the fields the pipeline reads. Other fields are kept (a shop's own ids,
prices, notes; a diffusion prompt template may name them) as long as they are plain JSON values.
Every problem raises :class:`~pipeline.errors.SidecarError` with one line that names the sidecar
file and the field: invalid JSON, nesting deeper than :data:`MAX_DEPTH`, ``NaN``/``Infinity``, a
number too long to be one, a field of the wrong type.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import SidecarError
from pipeline.types import BoxXYXY

MAX_BYTES = 1 << 20  # 1 MiB: a sidecar is a few hundred bytes; anything near this is not metadata
MAX_DEPTH = 16  # nesting levels: logo_boxes needs 3 (object, list, box); a shop's own fields a few more
MAX_NUMBER_DIGITS = 40  # characters of one JSON number: a pixel coordinate or a price needs < 20
SKU_FIELD = "sku"
SKU_MAX_CHARS = 255  # Shopify's and WooCommerce's SKU limit, the longest of the shop systems we know


class _NotANumber:
    """A JSON number that is not one the pipeline can use (``NaN``, ``Infinity``, 5000 digits)."""

    def __init__(self, text: str, why: str):
        self.text, self.why = text, why


class Sidecar(BaseModel):
    """The fields the pipeline reads from a sidecar (all optional; unknown fields are kept).

    logo_boxes: ``[[x0, y0, x1, y1], ...]`` in input-photo pixels (finite numbers; clipped to the
    photo later). sku, category, colour: text for prompts and people (diffusion prompt templates
    may use ``{category}`` and ``{colour}``).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    sku: str | int | None = None
    category: str | None = None
    colour: str | None = None
    logo_boxes: list[tuple[float, float, float, float]] | None = Field(
        None, description="logo/text boxes [x0, y0, x1, y1] in input pixels; [] means none (skip the finder)")

    @field_validator("sku", mode="before")
    @classmethod
    def _sku_rule(cls, v: Any) -> Any:
        sidecar_sku({SKU_FIELD: v})  # one rule for the SKU: ValueError saying what is wrong
        return v

    @field_validator("logo_boxes", mode="before")
    @classmethod
    def _boxes_are_lists(cls, v: Any) -> Any:
        if v is not None and not isinstance(v, list):
            raise ValueError("must be a list of [x0, y0, x1, y1]")
        for i, box in enumerate(v or ()):
            if not (isinstance(box, list) and len(box) == 4 and all(
                    isinstance(c, int | float) and not isinstance(c, bool) for c in box)):
                raise ValueError(f"box {i} must be [x0, y0, x1, y1] numbers, got {_short(box)}")
        return v


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=lambda o: o.text if isinstance(o, _NotANumber) else str(o))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_number(text: str, kind: type) -> Any:
    if len(text) > MAX_NUMBER_DIGITS:
        return _NotANumber(f"{text[:12]}...", f"a number of {len(text)} characters")
    value = kind(text)
    if isinstance(value, float) and not math.isfinite(value):
        return _NotANumber(text, "out of range")
    return value


def _path_text(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _check_values(parsed: Any, name: str) -> None:
    """Walk the parsed JSON (iteratively: no recursion on hostile input): depth and numbers."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(parsed, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_DEPTH and isinstance(value, dict | list):
            raise SidecarError(f"sidecar {name}: field {_path_text(path[:3])}... is nested more than {MAX_DEPTH} "
                               "levels deep")
        if isinstance(value, _NotANumber):
            raise SidecarError(f"sidecar {name}: field {_path_text(path)} is not a usable number "
                               f"({value.text}: {value.why}); use a plain finite number")
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))


def parse_sidecar(data: bytes, name: str) -> dict[str, Any]:
    """Parse and validate sidecar bytes; returns the fields as a dict (``logo_boxes`` as lists).

    ``name``: the sidecar's key, used in every message. Raises :class:`SidecarError` (one line,
    naming the sidecar and the field) for anything unusable.
    """
    if len(data) > MAX_BYTES:
        raise SidecarError(f"sidecar {name} is too large: {len(data)} bytes (at most {MAX_BYTES})")
    try:
        parsed = json.loads(data.decode("utf-8"), parse_constant=lambda c: _NotANumber(c, "not a number"),
                            parse_int=lambda t: _parse_number(t, int), parse_float=lambda t: _parse_number(t, float))
    except UnicodeDecodeError as exc:
        raise SidecarError(f"sidecar {name} is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SidecarError(f"sidecar {name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                           ) from None
    except RecursionError:
        raise SidecarError(f"sidecar {name} is nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(parsed, dict):
        raise SidecarError(f"sidecar {name} must be a JSON object ({{...}}), got {type(parsed).__name__}")
    _check_values(parsed, name)
    try:
        model = Sidecar.model_validate(parsed)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _path_text(tuple(err["loc"]))
        why = err["msg"].removeprefix("Value error, ")
        text = why if why.startswith("sidecar field ") else f"field {loc}: {why}"  # sidecar_sku's name it already
        raise SidecarError(f"sidecar {name}: {text}") from None
    out = {k: v for k, v in model.model_dump(exclude_unset=True).items() if v is not None}
    if model.logo_boxes is not None:
        out["logo_boxes"] = [list(box) for box in model.logo_boxes]
    return out


def read_sidecar_boxes(sidecar: dict[str, Any] | None, image_hw: tuple[int, int]) -> tuple[BoxXYXY, ...] | None:
    """``logo_boxes`` from a parsed sidecar (``[[x0, y0, x1, y1], ...]`` in input pixels).

    Returns None when the sidecar has no such key (then regions are found automatically);
    raises ValueError naming the bad entry otherwise. Boxes are clipped to the image.
    """
    if not sidecar or sidecar.get("logo_boxes") is None:
        return None
    raw = sidecar["logo_boxes"]
    if not isinstance(raw, list):
        raise ValueError(f"sidecar logo_boxes must be a list of [x0, y0, x1, y1], got {type(raw).__name__}")
    h, w = image_hw
    boxes = []
    for i, box in enumerate(raw):
        if not (isinstance(box, list | tuple) and len(box) == 4
                and all(isinstance(v, int | float) and math.isfinite(v) for v in box)):
            raise ValueError(f"sidecar logo_boxes[{i}] must be [x0, y0, x1, y1] finite numbers, got {box!r}")
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, x1 = max(0, min(x0, x1)), min(w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(h, max(y0, y1))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            boxes.append((x0, y0, x1, y1))
    return tuple(boxes)


def sidecar_sku(sidecar: Mapping[str, Any] | None) -> str | None:
    """The ``sku`` a parsed sidecar names (stripped), None when it names none.

    ``ValueError`` naming the field for a SKU that is not a non-empty string or whole number of at
    most ``SKU_MAX_CHARS`` characters without control characters."""
    if not sidecar or sidecar.get(SKU_FIELD) is None:
        return None
    raw = sidecar[SKU_FIELD]
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"sidecar field {SKU_FIELD!r} must be text, got {type(raw).__name__}")  # noqa: TRY004
    text = str(raw).strip()
    if not text:
        raise ValueError(f"sidecar field {SKU_FIELD!r} is empty")
    if len(text) > SKU_MAX_CHARS:
        raise ValueError(f"sidecar field {SKU_FIELD!r} is longer than {SKU_MAX_CHARS} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValueError(f"sidecar field {SKU_FIELD!r} contains control characters")
    return text
