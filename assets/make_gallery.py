"""Draw assets/gallery.jpg: one generated sample product on every theme (for the README).

    python assets/make_gallery.py            # rewrites assets/gallery.jpg

Uses only the CPU path (classical segmentation + studio scenes) and the generated samples.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pipeline.compose import build_stages, process_product
from pipeline.config import PipelineConfig
from pipeline.io.imageio import encode_jpeg
from pipeline.samples import render_sample
from pipeline.config.themes import load_themes

OUT = Path(__file__).resolve().parent / "gallery.jpg"
PRODUCTS = ("mug_red", "bottle_teal", "sneaker_navy", "box_white", "jar_gold", "tube_toothpaste",
            "tote_canvas", "pump_bottle_white")
TILE = 320


def main() -> None:
    tiles = []
    for theme, product in zip(sorted(load_themes()), PRODUCTS, strict=False):
        config = PipelineConfig().with_overrides({"scene.theme": theme, "placement.long_side": TILE})
        sample = render_sample(product)
        data = cv2.imencode(".png", cv2.cvtColor(sample.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
        result = process_product(data, name=product, config=config, stages=build_stages(config), seed=0)
        tile = result.composite.copy()
        (tw, th), _ = cv2.getTextSize(theme, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        band = tile[TILE - th - 16 : TILE, : tw + 16].astype(np.float32)
        tile[TILE - th - 16 : TILE, : tw + 16] = (band * 0.35).astype(np.uint8)
        cv2.putText(tile, theme, (8, TILE - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (250, 250, 250), 1, cv2.LINE_AA)
        tiles.append(tile)
    rows = [np.concatenate(tiles[i : i + 4], axis=1) for i in range(0, len(tiles), 4)]
    OUT.write_bytes(encode_jpeg(np.concatenate(rows, axis=0), quality=85))
    print(OUT)


if __name__ == "__main__":
    main()
