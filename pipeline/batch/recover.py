"""Recovery of batches whose run died: their reports, written from the ledger, by the next run.

A run (CLI or flow) marks its batch open in the ledger and holds the batch's lease while it
runs; the items it commits are recorded under ``_ledger/batches/<batch_id>/``. A run that dies
(``kill -9``, Ctrl-C, a lost machine, an abort) leaves the marker behind. The next run, CLI or
flow, starts here: for every open batch whose lease it can take (its holder is a dead process on
this machine, or the lease expired) it writes that batch's reports from the committed records
and closes it, so every committed item ends up in exactly one report. A batch that stops on an
error writes that report itself, at once (:func:`close_aborted_batch`).
"""

from __future__ import annotations

import logging

from pipeline.batch.report import write_batch_reports
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.ledger import Lease, Ledger
from pipeline.redact import redact
from pipeline.types import ItemRecord

log = logging.getLogger(__name__)


def recover_batches(ledger: Ledger, dest: Bucket, *, holder: str, current: str | None = None) -> list[str]:
    """Write the reports of batches whose run died before writing them, and close those batches.

    holder: this run's lease holder id. current: this run's own batch id (never touched here).
    Returns the batch ids recovered. Stale leases of committed items are swept first.
    """
    ledger.sweep()
    recovered = []
    for batch_id, meta in ledger.open_batches().items():
        if batch_id == current:
            continue
        lease = ledger.acquire(f"batch-{batch_id}", holder, batch_id=batch_id)
        if lease is None:
            continue  # its run is alive
        try:
            records = ledger.batch_records(batch_id)
            if records and not dest.exists(f"{batch_id}/report.json"):  # died after its report: just close
                config = PipelineConfig.model_validate_json(meta.get("config_json") or "{}")
                write_batch_reports(dest, batch_id, str(meta.get("backend", "unknown")), config, records,
                                    extra={"recovered": True})
                log.warning("batch %s did not finish (its run died): wrote its report with the %d items it "
                            "committed", batch_id, len(records))
            ledger.close_batch(batch_id, lease)
        except BaseException:
            lease.release()
            raise
        recovered.append(batch_id)
    if recovered:
        log.info("recovered %d interrupted batch(es) in %s: %s", len(recovered), redact(dest.url),
                 ", ".join(recovered))
    return recovered


def close_aborted_batch(ledger: Ledger, dest: Bucket, batch_id: str, config: PipelineConfig, lease: Lease,
           exc: BaseException) -> None:
    """The batch stops early: an error writes the report of what it committed now; Ctrl-C (or a
    report that cannot be written) leaves the batch open for the next run to report."""
    if isinstance(exc, Exception):
        try:
            records = ledger.batch_records(batch_id)
            if records:
                write_batch_reports(dest, batch_id, _backend_of(config, records), config, records,
                                    extra={"aborted": redact(f"{type(exc).__name__}: {exc}")[:300]})
                log.error("batch %s stopped early; its report lists the %d items it committed; run the same "
                          "command again to process the rest", batch_id, len(records))
            ledger.close_batch(batch_id, lease)
            return
        except Exception as err:  # noqa: BLE001 - the next run writes it instead
            log.warning("batch %s: could not write its report now (%s); the next run will", batch_id, err)
    else:
        log.error("batch %s interrupted: the next run writes the report of what it committed", batch_id)
    lease.release()  # the open marker stays: the next run's recovery writes the report


def _backend_of(config: PipelineConfig, records: list[ItemRecord]) -> str:
    """The scene backend the records name, else the configured one."""
    return next((r.backends["scene"] for r in records if r.backends.get("scene")), config.scene.backend)
