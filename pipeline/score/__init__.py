"""Scoring: appearance-consistency metrics of a composite and the pass/fail gate.

``score_composite(reference, composite, plate, source_background_rgb, config) -> Metrics`` and
``apply_gate(metrics, gate) -> Verdict`` are the entry points; definitions of each metric are in
:mod:`pipeline.score.metrics`.
"""

from __future__ import annotations

from pipeline.score.gate import CHECKS, apply_gate, failed_metric
from pipeline.score.metrics import score_composite

__all__ = ["CHECKS", "apply_gate", "failed_metric", "score_composite"]
