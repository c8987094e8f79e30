"""Synthetic product photos with exact ground truth (the project ships no outside images).

- :data:`SAMPLE_SPECS`: the named samples (category, colour, notes, native size, format, what
  each covers: text/logos, white-on-white, holes, shadows, off-white and grey backgrounds, two
  products, a product cut by the frame).
- :func:`render_sample`: one sample as arrays (:class:`Sample`: rgb HWC uint8, mask HW bool,
  alpha HW float32 exact coverage, logo_boxes xyxy, meta).
- :func:`write_samples`: photos + ``<name>.json`` sidecars + ``_ground_truth/<name>_mask.png``.

Drawing is supersampled 4x per axis (:mod:`.shapes`), lit by simple studio shading
(:mod:`.shading`), composed on a :class:`~.canvas.Canvas` by the recipes in :mod:`.products`
and the scenes in :mod:`.catalog`.
"""

from pipeline.samples.catalog import SAMPLE_SPECS, SampleSpec
from pipeline.samples.render import Sample, render_sample
from pipeline.samples.writer import sidecar, write_sample, write_samples

__all__ = ["SAMPLE_SPECS", "Sample", "SampleSpec", "render_sample", "sidecar", "write_sample", "write_samples"]
