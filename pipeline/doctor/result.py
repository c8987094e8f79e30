"""One line of the doctor's report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DoctorCheck:
    """One line of the doctor's report: ``hint`` says what to do when ``ok`` is False."""

    name: str
    ok: bool
    detail: str
    hint: str = ""
