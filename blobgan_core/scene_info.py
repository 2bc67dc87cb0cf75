"""What the blob editor widget is told about a scene: blob geometry, colours and ids as plain JSON.

The dict has the shape ``parseSceneInfo`` in ``web/js/blob_geometry.js`` reads (its ``SceneInfo``
typedef is the contract). Blobs are listed by id, not by depth: ``blobs[i]`` is the blob with id i (the
number on the blob map and in edit lists) and ``order`` lists the ids back to front. Colours are the blob
map's (``visualize.blob_colors``), chosen by id, as ``Scene.blob_map`` draws them.
"""

from __future__ import annotations

import math

import torch

from .scene import Scene
from .visualize import palette as palette_colors


def hex_color(rgb) -> str:
    """(r, g, b) in [0,1] -> "#rrggbb"."""
    return "#" + "".join(f"{min(255, max(0, round(float(v) * 255))):02x}" for v in rgb)


def blob_palette(name: str) -> list[str]:
    """The blob colours of a palette without its background entry: blob id k is drawn in entry
    ``k % len``, which is how ``visualize.blob_colors`` repeats the palette."""
    return [hex_color(c) for c in palette_colors(name)[1:]]


def scene_info(scene: Scene, index: int = 0) -> dict:
    """Scene item ``index`` of the batch as the widget's SceneInfo.

    Returns ``{"width", "height", "blobs": [{"id", "x", "y", "size", "cov", "color"}], "order", "palette"}``:
    width/height in image px (the render resolution), centres in normalized units (0..1, y down), ``size``
    the size logit (<= 0: hidden), ``cov`` the 2x2 covariance ``[[a, b], [b, c]]`` in normalized units
    squared (as ``Layout.covs``), ``order`` the ids back to front. Raises ValueError for a bad index or a
    non-finite blob parameter (JSON cannot carry it and the widget would reject it).
    """
    layout = scene.layout
    if not 0 <= index < layout.batch:
        raise ValueError(f"scene index must be in 0..{layout.batch - 1}, got {index}")
    item = layout.select(index).to("cpu", torch.float64)
    xs, ys = item.xs[0].tolist(), item.ys[0].tolist()          # [K]
    sizes = item.sizes[0, 1:].tolist()                          # [K], background dropped
    covs = item.covs[0].tolist()                                # [K,2,2]
    colors = blob_palette(scene.model.config.palette)
    depth_of = {blob_id: k for k, blob_id in enumerate(scene.ids)}
    blobs = []
    for blob_id in range(len(scene.ids)):
        k = depth_of.get(blob_id)
        if k is None:
            raise ValueError(f"scene ids {list(scene.ids)} are not a permutation of 0..{len(scene.ids) - 1}")
        values = [xs[k], ys[k], sizes[k], *covs[k][0], *covs[k][1]]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"blob {blob_id} has a non-finite parameter; the scene cannot be shown")
        # the float32 round trip can leave b != b' in the last bit; the widget expects a symmetric matrix
        off = (covs[k][0][1] + covs[k][1][0]) / 2
        blobs.append({"id": blob_id, "x": xs[k], "y": ys[k], "size": sizes[k],
                      "cov": [[covs[k][0][0], off], [off, covs[k][1][1]]],
                      "color": colors[blob_id % len(colors)]})
    resolution = scene.resolution
    return {"width": resolution, "height": resolution, "blobs": blobs, "order": list(scene.ids),
            "palette": colors}
