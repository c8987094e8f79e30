"""Terminal niceties for the CLI: rich logging and a batch progress bar."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pipeline.types import ItemRecord

_console = Console(stderr=True)


def setup_logging(level: int) -> None:
    """Log to stderr through rich (stdout is kept for machine-readable output).

    ``level`` applies to this project's loggers; third-party libraries log warnings only.
    """
    logging.basicConfig(level=logging.WARNING, format="%(message)s", datefmt="[%X]",
                        handlers=[RichHandler(console=_console, show_path=False)], force=True)
    for name in ("pipeline", "flows"):
        logging.getLogger(name).setLevel(level)


# Environment switches that silence the loading bars of the libraries the stages use (tqdm >= 4.66
# reads TQDM_* defaults from the environment: diffusers' "Loading pipeline components", transformers'
# checkpoint shards; huggingface_hub's downloads have their own). The environment reaches the worker
# processes too, which a call to each library's disable function would not.
QUIET_LIBRARY_ENV = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def quiet_library_progress() -> None:
    """Turn the libraries' own progress bars off in this process and the workers it starts."""
    os.environ.update(QUIET_LIBRARY_ENV)


@contextmanager
def batch_progress(enabled: bool = True) -> Iterator[tuple[Callable[[int], None], Callable[[ItemRecord], None]]]:
    """Yields (on_start(total), on_item(record)) callbacks driving a progress bar on stderr."""
    counts = {"pass": 0, "fail": 0, "error": 0, "skipped": 0}
    progress = Progress(
        TextColumn("[bold]scenes"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[green]{task.fields[passed]} pass [red]{task.fields[failed]} fail "
                   "[yellow]{task.fields[errors]} error [dim]{task.fields[skipped]} done before"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=_console, disable=not enabled,
    )
    task = progress.add_task("batch", total=None, passed=0, failed=0, errors=0, skipped=0)

    def on_start(total: int) -> None:
        progress.update(task, total=total)

    def on_item(record: ItemRecord) -> None:
        key = record.status if record.status in ("error", "skipped") else (record.verdict or "fail")
        counts[key] += 1
        progress.update(task, advance=1, passed=counts["pass"], failed=counts["fail"], errors=counts["error"],
                        skipped=counts["skipped"])
        if not enabled:
            what = record.error or record.verdict or "; ".join(record.notes) or record.status
            logging.getLogger("pipeline.batch").info("%s: %s", record.id, what)

    with progress:
        yield on_start, on_item
