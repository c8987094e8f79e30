"""Pixel constants that follow the working size.

The classical segmenter's pixel constants (passage widths, windows, blur sigmas, areas in pixels,
lightness slopes per pixel) were measured with the work copy at ``REFERENCE_SIDE`` pixels on its
long side. At a larger ``segment.work_side`` the same product covers more pixels, so each constant
is scaled by ``factor = long side / REFERENCE_SIDE``: lengths by the factor, areas by its square,
slopes (ΔL per pixel) by its inverse. Below the reference side the constants stay as measured
(factor 1): they are already near the smallest that mean anything (1-7 px).
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_SIDE = 512  # work pixels (long side) at which every pixel constant of segment/ was measured


@dataclass(frozen=True)
class WorkScale:
    """How many work pixels one reference pixel is (``factor`` >= 1)."""

    factor: float = 1.0

    @classmethod
    def of(cls, hw: tuple[int, ...]) -> WorkScale:
        """The scale of a work image of shape ``hw`` (H, W, ...)."""
        return cls(max(1.0, max(hw[0], hw[1]) / REFERENCE_SIDE))

    def px(self, length: float, minimum: int = 1) -> int:
        """A length given in reference pixels, in work pixels (rounded, at least ``minimum``)."""
        return max(minimum, int(round(length * self.factor)))

    def odd(self, length: float) -> int:
        """A box-filter size given in reference pixels, in work pixels, odd (at least 1)."""
        return self.px(length) | 1

    def sigma(self, sigma: float) -> float:
        """A blur sigma given in reference pixels, in work pixels."""
        return sigma * self.factor

    def area(self, area: float) -> float:
        """An area given in reference pixels², in work pixels²."""
        return area * self.factor * self.factor

    def slope(self, slope: float) -> float:
        """A slope given per reference pixel (e.g. ΔL per pixel), per work pixel."""
        return slope / self.factor


REFERENCE = WorkScale()
