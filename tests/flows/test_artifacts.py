"""flows.artifacts builders (pure, no Prefect server): the summary agrees with report.json."""

from __future__ import annotations

import pytest

from tests.needs import needs

needs("flows")

from flows.artifacts import BatchStats, summary_markdown
from pipeline.report import build_report
from pipeline.types import ItemRecord


def test_pass_rate_has_one_definition_in_the_report_and_the_prefect_summary():
    """6 pass and 2 errors: 100% everywhere (passed / (passed + failed)), the errors beside it."""
    records = [ItemRecord(id=f"p{k}", source=f"p{k}.png", status="ok", verdict="pass") for k in range(6)]
    records += [ItemRecord(id=f"e{k}", source=f"e{k}.png", status="error", error="bad file") for k in range(2)]
    summary = build_report("b", "studio", "h", records)["summary"]
    assert (summary["pass_rate"], summary["errors"]) == (1.0, 2)
    text = summary_markdown(records, BatchStats(batch_id="b", backend="studio", runner="threads"), None)
    assert "**Pass rate: 100.0%** (6 pass, 0 fail; 2 errors beside it of 8 processed)" in text
    failing = records + [ItemRecord(id="f", source="f.png", status="ok", verdict="fail")]
    assert "**Pass rate: 85.7%**" in summary_markdown(failing, BatchStats("b", "studio", "threads"), None)


def test_table_artifact_is_capped_worst_first_with_a_pointer_to_the_report():
    from flows.artifacts import capped_table_rows, table_rows
    from pipeline.types import ItemRecord

    records = [ItemRecord(id=f"p{i}", source=f"p{i}.jpg", status="ok", verdict="pass") for i in range(30)]
    records[7] = ItemRecord(id="bad", source="bad.jpg", status="error", error="truncated")
    records[20] = ItemRecord(id="meh", source="meh.jpg", status="ok", verdict="fail", reasons=("halo",))
    assert capped_table_rows(records, None, max_rows=30) == table_rows(records)
    rows = capped_table_rows(records, "s3://shop/out/b/report.html", max_rows=5)
    assert [r["id"] for r in rows[:5]] == ["p0", "p1", "p2", "bad", "meh"]  # the error and the failure kept
    assert len(rows) == 6
    assert rows[-1]["id"] == "… 25 more" and "s3://shop/out/b/report.html" in rows[-1]["note"]
