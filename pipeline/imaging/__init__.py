"""Small colour and mask helpers shared by every stage: one of each.

- :func:`rgb_to_lab`: HWC uint8 sRGB -> HWC float32 CIELAB (OpenCV, D65; L 0..100).
- :func:`delta_e76`: Euclidean Lab distance.
- :func:`resize_long_side`: shrink an image so its long side is at most ``side`` pixels.
- :func:`disc`, :func:`dilate_disc`, :func:`erode_disc`: morphology with a disc of radius ``r``.
- :func:`iou`: intersection over union of two masks (1.0 when both are empty).

The exact, table-based sRGB -> Lab and the CIEDE2000 difference the metrics report live in
:mod:`pipeline.score.color`.
"""

from pipeline.imaging.lab import delta_e76, rgb_to_lab
from pipeline.imaging.masks import dilate_disc, disc, erode_disc, iou, resize_long_side

__all__ = ["delta_e76", "dilate_disc", "disc", "erode_disc", "iou", "resize_long_side", "rgb_to_lab"]
