"""The sidecar model and its parser: every problem is one line naming the sidecar and the field
(issue 16: "file too large" for a 2 MB sidecar, NaN or 5000 digits naming neither, Infinity an
OverflowError traceback, 1,000 levels deep a RecursionError that stopped the batch)."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import SidecarError
from pipeline.place.sidecar import MAX_BYTES, MAX_DEPTH, Sidecar, parse_sidecar, read_sidecar_boxes


def test_typed_fields_and_unknown_fields_kept():
    data = {"sku": "MUG-12", "category": "mug", "colour": "blue", "logo_boxes": [[1, 2, 30.5, 40]],
            "shop_id": 7, "notes": {"shot_by": "ana"}}
    parsed = parse_sidecar(json.dumps(data).encode(), "a.json")
    assert parsed == {**data, "logo_boxes": [[1.0, 2.0, 30.5, 40.0]]}
    assert Sidecar.model_validate(parsed).category == "mug"
    assert parse_sidecar(b'{"logo_boxes": []}', "a.json") == {"logo_boxes": []}  # none: skip the finder
    assert read_sidecar_boxes(parse_sidecar(b'{"logo_boxes": [[1, 2, 30, 40]]}', "a.json"), (20, 20)) == (
        (1, 2, 20, 20),)
    assert read_sidecar_boxes(parse_sidecar(b'{"sku": "x"}', "a.json"), (20, 20)) is None


@pytest.mark.parametrize("data,message", [
    (b'{"logo_boxes": [[1, 2, NaN, 4]]}', "sidecar s/a.json: field logo_boxes[0][2] is not a usable number (NaN"),
    (b'{"logo_boxes": [[1, 2, Infinity, 4]]}', "field logo_boxes[0][2] is not a usable number (Infinity"),
    (b'{"logo_boxes": [[1, 2, -Infinity, 4]]}', "field logo_boxes[0][2] is not a usable number (-Infinity"),
    (b'{"logo_boxes": [[1, ' + b"9" * 5000 + b', 3, 4]]}', "field logo_boxes[0][1] is not a usable number"),
    (b'{"price": 1e999}', "field price is not a usable number (1e999: out of range)"),
    (b'{"logo_boxes": [[1, 2, 3]]}', "field logo_boxes: box 0 must be [x0, y0, x1, y1] numbers"),
    (b'{"logo_boxes": [[1, 2, 3, true]]}', "field logo_boxes: box 0 must be"),
    (b'{"logo_boxes": "everywhere"}', "field logo_boxes: must be a list"),
    (b'{"category": 5}', "field category: Input should be a valid string"),
    (b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}", "is nested more than"),
    (b'{"a": ' + b"[" * (MAX_DEPTH + 2) + b"]" * (MAX_DEPTH + 2) + b"}", "field a[0][0]... is nested more than"),
    (b"[1, 2]", "must be a JSON object"),
    (b"{sku: 1}", "is not valid JSON: Expecting property name"),
    (b"\xff\xfe{}", "is not UTF-8 text"),
    (b" " * (MAX_BYTES + 1), "is too large"),
])
def test_every_problem_is_one_line_naming_the_sidecar_and_the_field(data, message):
    with pytest.raises(SidecarError) as info:
        parse_sidecar(data, "s/a.json")
    text = str(info.value)
    assert message in text and "s/a.json" in text and "\n" not in text and len(text) < 200, text


@pytest.mark.parametrize("data,message", [
    (b'{"sku": ""}', "sidecar a.json: sidecar field 'sku' is empty"),
    (b'{"sku": true}', "sidecar a.json: sidecar field 'sku' must be text, got bool"),
    (b'{"sku": "a\\u0007b"}', "sidecar a.json: sidecar field 'sku' contains control characters"),
])
def test_the_sku_follows_the_catalogue_rule(data, message):
    with pytest.raises(SidecarError, match=f"^{message}"):
        parse_sidecar(data, "a.json")
    assert parse_sidecar(b'{"sku": 12}', "a.json") == {"sku": 12}
