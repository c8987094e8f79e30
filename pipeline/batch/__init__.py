"""The batch engine: one for the CLI and the Prefect flow.

:mod:`.plan` (list and group keys), :mod:`.item` (read, process, write one key, through the
ledger), :mod:`.outputs` (files and ``meta.json``), :mod:`.report` (the batch's reports),
:mod:`.pool` (``--workers N`` processes), :mod:`.run` (a whole batch), :mod:`.ids` (batch and
item names, seeds).
"""

from pipeline.batch.ids import item_id_for_key, item_seed, new_batch_id
from pipeline.batch.item import BatchRunner, process_group
from pipeline.batch.report import write_batch_reports
from pipeline.batch.run import run_batch, validate_run

__all__ = ["BatchRunner", "item_id_for_key", "item_seed", "new_batch_id", "process_group", "run_batch",
           "validate_run", "write_batch_reports"]
