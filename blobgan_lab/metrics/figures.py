"""PNG figures for the model card, drawn with Pillow from the quality benchmark's samples and numbers.

Nothing here is selected by hand or by score: sample grids show the first 64 samples of each set, the
edit strip shows scene 0's largest blob.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from blobgan_core.edits import move_blob
from blobgan_core.images import image_grid, save_png, to_uint8, unit_to_uint8

from ..data import LABEL_NAMES
from .ownership import owner_map

GAP = 2
# one colour per LABEL_NAMES entry: surfaces in muted tones, objects saturated
LABEL_COLOURS = np.array([
    (140, 110, 80), (205, 190, 150), (160, 170, 190), (190, 160, 170), (245, 245, 245),   # surfaces
    (220, 40, 40), (255, 170, 200), (60, 160, 255), (255, 220, 0), (150, 60, 200),         # bed .. painting
    (40, 120, 60), (255, 120, 20), (100, 60, 30), (0, 230, 230), (30, 60, 170),            # rug .. curtain
], dtype=np.uint8)


def _font(px: int):
    return ImageFont.load_default(size=px)


def grid(images: np.ndarray, columns: int, scale: int = 2, background: int = 255) -> np.ndarray:
    """uint8 [N,H,W,3] -> one image, ``columns`` wide, each tile upscaled ``scale`` x (nearest), 2 px gaps."""
    return image_grid(images, columns, scale=scale, gap=GAP, background=background)


def colour_labels(labels: torch.Tensor | np.ndarray) -> np.ndarray:
    """Label maps [N,H,W] -> uint8 [N,H,W,3] in LABEL_COLOURS."""
    return LABEL_COLOURS[np.asarray(labels, dtype=np.int64)]


def legend(width: int) -> np.ndarray:
    """A strip naming every label colour."""
    per_row = max(1, width // 110)
    rows = -(-len(LABEL_NAMES) // per_row)
    img = Image.new("RGB", (width, rows * 16 + 4), "white")
    draw = ImageDraw.Draw(img)
    for i, name in enumerate(LABEL_NAMES):
        r, c = divmod(i, per_row)
        x, y = 4 + c * 110, 2 + r * 16
        draw.rectangle([x, y + 2, x + 11, y + 13], fill=tuple(int(v) for v in LABEL_COLOURS[i]), outline="black")
        draw.text((x + 15, y), name, fill="black", font=_font(11))
    return np.asarray(img)


def titled(image: np.ndarray, title: str) -> np.ndarray:
    """The image with a line of text above it."""
    h, w = image.shape[:2]
    img = Image.new("RGB", (w, h + 18), "white")
    img.paste(Image.fromarray(image), (0, 18))
    ImageDraw.Draw(img).text((4, 2), title, fill="black", font=_font(12))
    return np.asarray(img)


def stack(parts: list[np.ndarray]) -> np.ndarray:
    """Images on top of each other, padded white to the widest."""
    w = max(p.shape[1] for p in parts)
    padded = [np.pad(p, ((0, 0), (0, w - p.shape[1]), (0, 0)), constant_values=255) for p in parts]
    return np.concatenate(padded)


@torch.no_grad()
def edit_strip(model, layout, steps: int = 7, span: float = 0.5, noise_seed: int = 0,
               blobs: list[int] | None = None) -> tuple[np.ndarray, list[int]]:
    """Renders and blob maps of ``blobs`` (default: the largest blob by owned pixels) of a one-scene
    layout moved together horizontally from -span/2 to +span/2 in ``steps`` steps. Returns (strip, blobs)."""
    res = model.resolution
    if blobs is None:
        owned = torch.bincount(owner_map(layout, res).reshape(-1), minlength=layout.n_blobs + 1)[1:]
        blobs = [int(owned.argmax())]
    offsets = np.linspace(-span / 2, span / 2, steps)
    from blobgan_core.layout import Layout

    def moved_by(dx: float) -> Layout:
        out = layout.to("cpu")
        for k in blobs:
            out = move_blob(out, k, dx, 0.0)
        return out

    moved = Layout.cat([moved_by(float(dx)) for dx in offsets])
    images = to_uint8(model.render(moved, noise=noise_seed))
    maps = unit_to_uint8(model.blob_map(moved, labels=True, size=2 * res))
    maps = maps[:, ::2, ::2] if maps.shape[1] == 2 * res else maps
    return grid(np.concatenate([images, maps]), columns=steps, scale=2), blobs


def object_strip(model, net, first_seed: int, tries: int = 20) -> tuple[np.ndarray, str]:
    """The edit strip of the largest segmented object (object_follow's definition) of the first scene,
    from seed ``first_seed`` on, that has one: its owning blobs moved together. Returns (strip, title)."""
    from .object_follow import scene_objects

    for i in range(tries):
        layout = model.sample_layout(seed=first_seed + i, truncation=0.4).to("cpu")
        objects = scene_objects(model, net, layout, first_seed + i)
        if objects:
            obj = max(objects, key=lambda o: int(o.mask.sum()))
            strip, blobs = edit_strip(model, layout, noise_seed=first_seed + i, blobs=obj.owners)
            names = " and ".join(str(k) for k in blobs)
            return strip, f"scene {i}: its {LABEL_NAMES[obj.kind]} (blob {names}) moved by -0.25 .. +0.25"
    raise ValueError(f"no object found in {tries} scenes from seed {first_seed}")


def ownership_chart(kind_share: np.ndarray, visible_rate: list[float], cell: int = 34) -> np.ndarray:
    """Heat map: a row per blob, a column per label, cell = share of the scenes (where the blob is
    visible) in which that label is the blob's main kind."""
    n_blobs, n_labels = kind_share.shape
    left, top = 96, 92
    img = Image.new("RGB", (left + n_labels * cell + 8, top + n_blobs * cell + 8), "white")
    draw = ImageDraw.Draw(img)
    font = _font(11)
    for c, name in enumerate(LABEL_NAMES):
        label = Image.new("RGB", (top - 4, cell), "white")
        ImageDraw.Draw(label).text((2, cell // 2), name, fill="black", font=font, anchor="lm")
        img.paste(label.rotate(90, expand=True), (left + c * cell, 0))
    for k in range(n_blobs):
        y = top + k * cell
        draw.text((4, y + cell // 2), f"blob {k} ({visible_rate[k]:.0%})", fill="black", font=font, anchor="lm")
        for c in range(n_labels):
            v = float(kind_share[k, c])
            shade = int(round(255 * (1 - v)))
            x = left + c * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(shade, shade, 255), outline=(210, 210, 210))
            if v >= 0.05:
                draw.text((x + cell // 2, y + cell // 2), f"{round(100 * v)}", fill="black" if v < 0.6 else "white",
                          font=font, anchor="mm")
    return np.asarray(img)


def save(folder: Path, name: str, image: np.ndarray) -> str:
    return str(save_png(folder / name, image))


def write_figures(folder: Path, model, sets: dict, generated_labels: torch.Tensor, result: dict, net,
                  locality_seed: int = 0) -> list[str]:
    """All model-card figures into ``folder``; returns the paths written.

    sets: {"real": uint8 [N,R,R,3], "real_labels": [N,R,R],
    "generated": {truncation: (uint8 images, Layout)}} as the benchmark makes them;
    generated_labels: segmenter labels of the first generated images at truncation 0.4.
    """
    from .segmenter import rooms_as_input, segment

    written = []
    for trunc, (images, layouts) in sets["generated"].items():
        written.append(save(folder, f"samples_t{trunc:g}.png", grid(images[:64], 8)))
        maps = unit_to_uint8(model.blob_map(layouts.select(slice(0, 64)), labels=True, size=2 * model.resolution))
        written.append(save(folder, f"blobmaps_t{trunc:g}.png", grid(maps, 8, scale=1)))
    written.append(save(folder, "real_rooms.png", grid(sets["real"][:64], 8)))

    images, _ = sets["generated"][0.4]
    real = sets["real"][:8]
    real_pred, _ = segment(net, rooms_as_input(real))
    seg = stack([
        titled(grid(np.concatenate([images[:8], colour_labels(generated_labels[:8])]), 8),
               "generated (truncation 0.4) and the segmenter's labels"),
        titled(grid(np.concatenate([real, colour_labels(sets["real_labels"][:8]), colour_labels(real_pred)]), 8),
               "real rooms, their true labels, the segmenter's labels"),
        legend(grid(images[:8], 8).shape[1]),
    ])
    written.append(save(folder, "segmentation.png", seg))

    scene_seed = locality_seed * 100_000
    layout = model.sample_layout(seed=scene_seed, truncation=0.4)
    strip, (k,) = edit_strip(model, layout, noise_seed=scene_seed)
    written.append(save(folder, "edit_strip.png", titled(strip, f"scene 0, blob {k} moved by -0.25 .. +0.25")))
    strip, title = object_strip(model, net, scene_seed)
    written.append(save(folder, "object_strip.png", titled(strip, title)))

    own = result["ownership"]
    chart = ownership_chart(np.array(own["kind_share"]), [b["visible_rate"] for b in own["per_blob"]])
    written.append(save(folder, "ownership.png", chart))
    return written

