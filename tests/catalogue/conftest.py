"""Fixtures: the catalogue on a local folder and on SeaweedFS (see tests/review/stores.py); the fix
batch (tests/review/fix_batch.py)."""

from tests.review.fix_batch import fix_batch, fix_batch_master  # noqa: F401
from tests.review.stores import seaweed, where  # noqa: F401
