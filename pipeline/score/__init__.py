"""Scoring: appearance-consistency metrics of a composite and the pass/fail gate.

``score_composite(reference, composite, plate, source_background_rgb, config) -> Metrics`` and
``apply_gate(metrics, gate) -> Verdict`` are the entry points; definitions of each metric are in
:mod:`pipeline.score.metrics`. ``cutout_signals(photo, mask)`` judges the cut-out from the photo
alone and ``scene_signals(composite, mask, ...)`` the frame around the product; ``with_checks``
adds both to the metrics the gate reads.
"""

from __future__ import annotations

from pipeline.score.gate import CHECKS, apply_gate, failed_metric
from pipeline.score.cutout import CutoutSignals, cutout_signals
from pipeline.score.metrics import score_composite, with_checks
from pipeline.score.scene_checks import SceneSignals, scene_signals

__all__ = ["CHECKS", "CutoutSignals", "SceneSignals", "apply_gate", "cutout_signals", "failed_metric",
           "scene_signals", "score_composite", "with_checks"]
