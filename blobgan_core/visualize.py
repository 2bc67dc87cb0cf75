"""Blob maps: the official visualisation of a layout (palette colours, opacity doubling, id labels)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .layout import Layout
from .splat import blob_opacities, composite, splat

DEFAULT_SIZE_THRESHOLD = -3.0  # blobs with s <= T get no label (official CLI default for bedrooms)


@functools.cache
def palette(name: str) -> tuple[tuple[float, float, float], ...]:
    """Official blob-map palette: entry 0 is the background, entry k+1 is blob k (RGB in [0,1])."""
    table = json.loads((Path(__file__).parent / "palettes.json").read_text())
    if name not in table:
        raise ValueError(f"unknown palette {name!r}; allowed: {sorted(table)}")
    return tuple(tuple(c) for c in table[name])


def blob_colors(name: str, n_blobs: int) -> torch.Tensor:
    """Colours for the background plus ``n_blobs`` blobs, [K+1,3]; the palette repeats past its end."""
    colors = palette(name)
    rows = [colors[0]] + [colors[1 + k % (len(colors) - 1)] for k in range(n_blobs)]
    return torch.tensor(rows, dtype=torch.float32)


def blob_map(
    layout: Layout,
    size: int,                      # side of the map in pixels (the render resolution)
    palette_name: str = "bed_conf",
    opacity_doubling: bool = True,  # o_k <- min(2 o_k, 1): larger, solid blobs, as the official demo shows
    ids: list[int] | None = None,   # id of the blob at each depth index (colours follow ids); None = 0..K-1
) -> torch.Tensor:
    """Blob map of a layout, [N,3,size,size] in [0,1]. Blob id i gets palette entry i+1, so a blob keeps
    its colour when depth edits reorder it; with ``ids=None`` this is the official map."""
    o = blob_opacities(layout, size)
    if opacity_doubling:
        o = (o * 2).clamp(max=1)
    alpha = composite(o)
    ids = list(range(layout.n_blobs)) if ids is None else list(ids)
    colors = blob_colors(palette_name, max(ids, default=-1) + 1)[[0, *(i + 1 for i in ids)]].to(alpha)
    return splat(alpha, colors.expand(layout.batch, -1, -1))


def label_blobs(
    image: np.ndarray,              # [H,W,3] uint8
    layout: Layout,
    index: int = 0,                 # which scene of the batch
    palette_name: str = "bed_conf",
    size_threshold: float = DEFAULT_SIZE_THRESHOLD,
    ids: list[int] | None = None,   # id of the blob at each depth index; None = 0..K-1
) -> np.ndarray:
    """Draw each visible blob's id at its centre, in its palette colour with a black outline."""
    h, w = image.shape[:2]
    img = Image.fromarray(image)
    draw = ImageDraw.Draw(img)
    font = _label_font(max(8, round(20 * h / 256)))
    ids = list(range(layout.n_blobs)) if ids is None else list(ids)
    colors = blob_colors(palette_name, max(ids, default=-1) + 1)
    sizes = layout.sizes[index, 1:].tolist()
    for k, (x, y) in enumerate(zip(layout.xs[index].tolist(), layout.ys[index].tolist())):
        if sizes[k] <= size_threshold:
            continue
        fill = tuple(int(round(v * 255)) for v in colors[ids[k] + 1].tolist())
        draw.text((x * (w - 1), y * (h - 1)), str(ids[k]), fill=fill, font=font, anchor="mm",
                  stroke_width=max(1, h // 256), stroke_fill=(0, 0, 0))
    return np.asarray(img)


@functools.cache
def _label_font(px: int):
    # Pillow's bundled font rather than a system one, so labelled maps look the same on every machine
    return ImageFont.load_default(size=px)
