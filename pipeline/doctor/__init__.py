"""``product-scene doctor``: which backends are usable here, and what is missing for the others.

:mod:`.backends` checks packages, the device, the hub and every model source the config names;
:mod:`.orchestration` checks Prefect, s3fs, the API and a bucket; :mod:`.report` runs them all and
formats the table.
"""

from pipeline.doctor.report import format_doctor, run_doctor
from pipeline.doctor.result import DoctorCheck

__all__ = ["DoctorCheck", "format_doctor", "run_doctor"]
