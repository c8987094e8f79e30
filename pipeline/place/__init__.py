"""Place: the product on the output canvas (:mod:`.placement`), its logo and text regions
(:mod:`.regions`), and the sidecar that may name them (:mod:`.sidecar`)."""

from pipeline.place.placement import compute_placement, place_product
from pipeline.place.regions import find_logo_regions
from pipeline.place.sidecar import parse_sidecar, read_sidecar_boxes

__all__ = ["compute_placement", "find_logo_regions", "parse_sidecar", "place_product", "read_sidecar_boxes"]
