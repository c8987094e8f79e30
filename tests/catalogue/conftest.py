"""Fixtures: the catalogue on a local folder and on SeaweedFS (see tests/review/stores.py)."""

from tests.review.stores import seaweed, where  # noqa: F401
