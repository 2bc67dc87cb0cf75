"""Drag points: parsing and validation of point JSON, handle/target pairing, pixel <-> normalized units.

Points live in **image pixels** of the rendered scene, continuous, x to the right and y down, with
``x_px = x_norm * width`` (the pixel with column index c sits at x_px = c, as in the splatting code).
The canonical text form is the one ComfyUI point editors (core SAM3 nodes, KJNodes' Points Editor)
write: ``[{"x": 12, "y": 40}, ...]``. ``[[x, y], ...]`` is accepted too.
"""

from __future__ import annotations

import json
import math

import torch

EXAMPLE = '[{"x": 10, "y": 20}, ...]'


class PointsError(ValueError):
    """Point input that cannot be used; the message names the input, the point and the allowed form."""


def parse_points(value, name: str = "points") -> list[tuple[float, float]]:
    """Points from JSON text, a list of {"x","y"} dicts or [x, y] pairs, or a tensor [P,2].

    "", whitespace and "[]" give no points. Returns [(x_px, y_px), ...] as floats.
    """
    if isinstance(value, torch.Tensor):
        if value.dim() != 2 or value.shape[-1] != 2:
            raise PointsError(f"{name}: a point tensor must be [P,2] (x, y in image pixels), got {list(value.shape)}")
        value = value.detach().cpu().double().tolist()
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise PointsError(f"{name}: not valid JSON ({e.msg} at column {e.colno}); expected {EXAMPLE} "
                              "in image pixels") from None
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise PointsError(f"{name}: expected a JSON list of points such as {EXAMPLE}; got {type(value).__name__}")
    return [_point(name, i, p) for i, p in enumerate(value)]


def _point(name: str, i: int, p) -> tuple[float, float]:
    if isinstance(p, dict):
        x, y = p.get("x"), p.get("y")
    elif isinstance(p, (list, tuple)) and len(p) == 2:
        x, y = p
    else:
        x = y = None
    if not (_is_number(x) and _is_number(y)):
        raise PointsError(f'{name}[{i}]: expected {{"x": number, "y": number}} in image pixels; got {p!r}')
    return float(x), float(y)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_drag_points(handles, targets=None) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Handle and target lists, paired by index (handles[i] is dragged to targets[i]).

    Canonical form: two lists (``handles``, ``targets``), each in :func:`parse_points` form. With
    ``targets`` empty ("", "[]" or None), ``handles`` may instead hold both, as {"handles": [...], "targets": [...]}
    or as a list of pairs [{"handle": {...}, "target": {...}}, ...] / [[[hx, hy], [tx, ty]], ...].
    """
    if isinstance(handles, str) and handles.strip():
        try:
            decoded = json.loads(handles)
        except json.JSONDecodeError:
            decoded = handles  # parse_points reports the JSON error
    else:
        decoded = handles
    no_targets = targets is None or (isinstance(targets, str) and targets.strip() in ("", "[]")) or (
        isinstance(targets, (list, tuple)) and len(targets) == 0)
    if no_targets and isinstance(decoded, dict):
        unknown = sorted(set(decoded) - {"handles", "targets"})
        if unknown or "handles" not in decoded or "targets" not in decoded:
            raise PointsError('points: a combined object must be {"handles": [...], "targets": [...]}; '
                              f"got keys {sorted(decoded)}")
        handles, targets = decoded["handles"], decoded["targets"]
    elif no_targets and isinstance(decoded, list) and decoded and all(_is_pair(p) for p in decoded):
        handles = [p["handle"] if isinstance(p, dict) else p[0] for p in decoded]
        targets = [p["target"] if isinstance(p, dict) else p[1] for p in decoded]
    hs, ts = parse_points(handles, "handles"), parse_points(targets, "targets")
    if len(hs) != len(ts):
        raise PointsError(f"handles has {len(hs)} point(s) but targets has {len(ts)}: every handle needs a "
                          "target (handles[i] is dragged to targets[i])")
    if not hs:
        raise PointsError(f"no drag points: give at least one handle and its target, e.g. handles={EXAMPLE}")
    return hs, ts


def _is_pair(p) -> bool:
    if isinstance(p, dict):
        return set(p) == {"handle", "target"}
    return isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(q, (list, tuple, dict)) for q in p)


def check_inside(points: list[tuple[float, float]], size: int, name: str) -> None:
    """Refuse points outside the image [0, size] x [0, size] (image pixels)."""
    for i, (x, y) in enumerate(points):
        if not (0 <= x <= size and 0 <= y <= size):
            raise PointsError(f"{name}[{i}] = ({x:g}, {y:g}) lies outside the {size}x{size} image; points are "
                              f"in image pixels, 0..{size}")


def points_tensor(points, device=None, dtype=torch.float32) -> torch.Tensor:
    """[(x, y), ...] -> tensor [P,2]."""
    return torch.tensor([list(p) for p in points], dtype=dtype, device=device).reshape(-1, 2)


def to_normalized(points_px: torch.Tensor, size: int) -> torch.Tensor:
    """Image pixels -> normalized image units (x_norm = x_px / size), [P,2] -> [P,2]."""
    return points_px / size


def to_pixels(points_norm: torch.Tensor, size: int) -> torch.Tensor:
    """Normalized image units -> image pixels, [P,2] -> [P,2]."""
    return points_norm * size


def points_json(points, decimals: int = 2) -> str:
    """Points [P,2] (tensor or pairs) as compact canonical JSON [{"x":..,"y":..}], rounded."""
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().double().tolist()

    def r(v: float):
        v = round(float(v), decimals)
        return int(v) if v == int(v) else v

    return json.dumps([{"x": r(x), "y": r(y)} for x, y in points], separators=(",", ":"))
