"""The base of every config model: unknown keys are errors, values are frozen."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config section: ``extra="forbid"`` (a typo is an error naming the key), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def renamed_key(data: Any, old: str, new: str, section: str) -> Any:
    """A config mapping with the renamed key ``old`` read as ``new`` (logged); ValueError when both
    are given. For a section model's ``model_validator(mode="before")``."""
    if not isinstance(data, dict) or old not in data:
        return data
    if new in data:
        raise ValueError(f"{section}: {old!r} was renamed to {new!r}; give only {new!r}")
    logging.getLogger(__name__).warning("config %s.%s is now %s.%s (read as such; rename it)", section, old,
                                        section, new)
    return {new if k == old else k: v for k, v in data.items()}
