"""The batch engine: one for the CLI and the Prefect flow.

:mod:`.plan` (one listing rule: items, sidecars, ignored keys; the ledger's fingerprint index),
:mod:`.item` (read once, process, write, commit one key: :func:`run_item`), :mod:`.failures`
(errors classified once, the one error-row builder), :mod:`.outputs` (files and ``meta.json``),
:mod:`.report` (the batch's reports), :mod:`.recover` (reports of batches whose run died),
:mod:`.pool` (``--workers N`` processes), :mod:`.run` (a whole batch for the CLI), :mod:`.ids`
(batch and item names, seeds).
"""

from pipeline.batch.ids import check_batch_id, item_id_for_key, item_seed, new_batch_id
from pipeline.batch.item import BatchRunner, process_group, run_item
from pipeline.batch.plan import Plan, Planned, plan_batch
from pipeline.batch.recover import recover_batches
from pipeline.batch.report import write_batch_reports
from pipeline.batch.run import run_batch, validate_run

__all__ = ["BatchRunner", "Plan", "Planned", "check_batch_id", "item_id_for_key", "item_seed", "new_batch_id",
           "plan_batch", "process_group", "recover_batches", "run_batch", "run_item", "validate_run",
           "write_batch_reports"]
