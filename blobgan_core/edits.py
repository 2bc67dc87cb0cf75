"""Blob edits: pure functions from layout to layout, and the edit-list language of docs/edit-list.md.

Each ``*_blob`` function takes a blob's current depth index ``k`` (0..K-1) and returns a new Layout;
nothing is modified in place. :func:`apply_edits` runs an edit list, addressing blobs by id (their
index in the input scene) while depth edits reorder them.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .layout import Layout, cov_axes, cov_from_axes

HIDDEN_SIZE = -100.0  # sigmoid(-100 - d^2) is 0 in float32: the blob leaves no trace

# What an edit may make of a blob (docs/edit-list.md, "Limits"). Past these the float32 splatting
# breaks down (a covariance stretched past about 1e8 between its axes loses positive definiteness and
# renders NaN) or the blob is nowhere near the picture, so the edit is refused, naming it.
MAX_CENTRE = 1e3        # |x|, |y| of a centre, in image widths
MAX_SIZE = 1e4          # size logit; any more is already fully opaque everywhere it reaches
MAX_ELONGATION = 1e3    # ratio of an ellipse's long to short axis


# -- single-blob edits (by depth index) ---------------------------------------------------------------

def _set_blob(t: torch.Tensor, k: int, value: torch.Tensor) -> torch.Tensor:
    """Copy of a per-blob tensor [N,K,...] with blob k replaced."""
    t = t.clone()
    t[:, k] = value
    return t


def move_blob(layout: Layout, k: int, dx: float, dy: float) -> Layout:
    """Shift blob k's centre by (dx, dy) in normalized image units."""
    return layout.replace(xs=_set_blob(layout.xs, k, layout.xs[:, k] + dx),
                          ys=_set_blob(layout.ys, k, layout.ys[:, k] + dy))


def scale_blob(layout: Layout, k: int, scale: float) -> Layout:
    """Scale blob k's half-opacity outline by ``scale`` (s <- s * scale^2); hidden blobs stay as they are."""
    s = layout.sizes[:, k + 1]
    return layout.replace(sizes=_set_blob(layout.sizes, k + 1, torch.where(s > 0, s * scale ** 2, s)))


def set_blob_size(layout: Layout, k: int, size: float) -> Layout:
    """Set blob k's size logit (e.g. to revive a hidden blob)."""
    return layout.replace(sizes=_set_blob(layout.sizes, k + 1, torch.full_like(layout.sizes[:, k + 1], size)))


def hide_blob(layout: Layout, k: int) -> Layout:
    return set_blob_size(layout, k, HIDDEN_SIZE)


def rotate_blob(layout: Layout, k: int, degrees: float) -> Layout:
    """Rotate blob k's ellipse; positive degrees turn clockwise on screen (y points down)."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    rot = layout.covs.new_tensor([[c, -s], [s, c]])
    cov = rot @ layout.covs[:, k] @ rot.T
    return layout.replace(covs=_set_blob(layout.covs, k, cov))


def reshape_blob(layout: Layout, k: int, aspect: float) -> Layout:
    """Stretch blob k along its major axis and squeeze it along the minor one (area kept)."""
    angle, major, minor = cov_axes(layout.covs[:, k])
    cov = cov_from_axes(angle, major * aspect, minor / aspect)
    return layout.replace(covs=_set_blob(layout.covs, k, cov))


def duplicate_blob(layout: Layout, k: int, dx: float = 0.0, dy: float = 0.0) -> Layout:
    """Append a copy of blob k, moved by (dx, dy), in front of all blobs. K grows by one."""
    def append(t: torch.Tensor, i: int) -> torch.Tensor:
        return torch.cat([t, t[:, i:i + 1]], 1)

    out = Layout(xs=append(layout.xs, k), ys=append(layout.ys, k), sizes=append(layout.sizes, k + 1),
                 covs=append(layout.covs, k), features=append(layout.features, k + 1),
                 spatial_style=append(layout.spatial_style, k + 1))
    return move_blob(out, layout.n_blobs, dx, dy)


def restyle_blob(
    layout: Layout,
    k: int,
    source: Layout,
    source_index: int,        # index into source.features/spatial_style (0 = background, j+1 = blob j)
    style: bool = True,       # take the style vector psi
    structure: bool = False,  # take the structure vector phi
) -> Layout:
    """Give blob k the style (and/or structure) vector of a blob of ``source``.

    ``source`` has batch 1 (broadcast) or the same batch as ``layout``.
    """
    if source.batch not in (1, layout.batch):
        raise ValueError(f"source scene has batch {source.batch}; it must be 1 or {layout.batch}")
    changes = {}
    if style:
        v = source.spatial_style[:, source_index].to(layout.spatial_style)
        changes["spatial_style"] = _set_blob(layout.spatial_style, k + 1, v.expand(layout.batch, -1))
    if structure:
        v = source.features[:, source_index].to(layout.features)
        changes["features"] = _set_blob(layout.features, k + 1, v.expand(layout.batch, -1))
    return layout.replace(**changes)


def reorder_blobs(layout: Layout, order: list[int]) -> Layout:
    """Permute blobs into depth ``order`` (old indices, back to front)."""
    idx = torch.tensor(order, device=layout.device)
    idx1 = torch.cat([idx.new_zeros(1), idx + 1])  # the background stays at index 0
    return Layout(xs=layout.xs[:, idx], ys=layout.ys[:, idx], covs=layout.covs[:, idx],
                  sizes=layout.sizes[:, idx1], features=layout.features[:, idx1],
                  spatial_style=layout.spatial_style[:, idx1])


# -- the edit-list language ----------------------------------------------------------------------------

class EditError(ValueError):
    """An edit list that cannot be applied; the message names the edit, the field and what is allowed."""


@dataclass(frozen=True)
class Edit:
    op: str
    blob: int
    args: dict


@dataclass(frozen=True)
class _Context:
    """What an op may read besides the layout: the input scene (for ``"scene": "self"``), the node's
    source scene and the edit's name for error messages."""
    original: Layout
    source: Layout | None
    where: str


# An op's function maps (layout, ids, k, args, context) to (layout, ids): ``ids`` is the id of the blob at
# each depth index, ``k`` the depth index of the edited blob.
OpFunction = Callable[[Layout, list[int], int, dict, _Context], tuple[Layout, list[int]]]


@dataclass(frozen=True)
class Op:
    fields: dict[str, tuple[str, object]]  # field -> (kind, default or REQUIRED); kinds: see _check_field
    apply: OpFunction
    limits: tuple[str, ...] = ()           # what the op can push past a limit: "centre", "size", "shape"


REQUIRED = object()
_FLOAT32_MAX = torch.finfo(torch.float32).max
_NUMBER, _POSITIVE = ("number", REQUIRED), ("positive", REQUIRED)


def _same_ids(edit: Callable[[Layout, int, dict], Layout]) -> OpFunction:
    return lambda layout, ids, k, a, ctx: (edit(layout, k, a), ids)


def _duplicate(layout, ids, k, a, ctx):
    return duplicate_blob(layout, k, a["dx"], a["dy"]), [*ids, max(ids) + 1]


def _to_depth(new_index: Callable[[int, int], int]) -> OpFunction:
    """A depth op: blob k goes to depth ``new_index(k, K)``; ids follow their blobs."""
    def apply(layout, ids, k, a, ctx):
        order = list(range(len(ids)))
        order.pop(k)
        order.insert(new_index(k, len(ids)), k)
        return reorder_blobs(layout, order), [ids[j] for j in order]
    return apply


def _restyle(layout, ids, k, a, ctx):
    if a["scene"] == "self":
        src = ctx.original  # ids of this scene refer to the node's input
    elif ctx.source is None:
        raise EditError(f"{ctx.where}: takes vectors from the 'source_scene' input, which is not connected; "
                        "connect a scene there or set \"scene\": \"self\"")
    else:
        src = ctx.source
    sb = a["source_blob"]
    if sb == "background":
        index = 0
    elif sb < src.n_blobs:
        index = sb + 1
    else:
        raise EditError(f"{ctx.where}: 'source_blob' {sb} does not exist in the {a['scene']} scene; "
                        f"valid: 0..{src.n_blobs - 1} or \"background\"")
    return restyle_blob(layout, k, src, index, style=a["style"], structure=a["structure"]), ids


# The edit-list language, one entry per op (docs/edit-list.md; web/js mirrors it). A new op is one entry
# here, one in the widget's registry, a case in the shared fixture and a line in the docs.
OPS: dict[str, Op] = {
    "move": Op({"dx": _NUMBER, "dy": _NUMBER}, _same_ids(lambda lay, k, a: move_blob(lay, k, a["dx"], a["dy"])),
               ("centre",)),
    "resize": Op({"scale": _POSITIVE}, _same_ids(lambda lay, k, a: scale_blob(lay, k, a["scale"])), ("size",)),
    "set_size": Op({"size": _NUMBER}, _same_ids(lambda lay, k, a: set_blob_size(lay, k, a["size"])), ("size",)),
    "reshape": Op({"aspect": _POSITIVE}, _same_ids(lambda lay, k, a: reshape_blob(lay, k, a["aspect"])),
                  ("shape",)),
    "rotate": Op({"degrees": _NUMBER}, _same_ids(lambda lay, k, a: rotate_blob(lay, k, a["degrees"])), ("shape",)),
    "remove": Op({}, _same_ids(lambda lay, k, a: hide_blob(lay, k))),
    "duplicate": Op({"dx": ("number", 0.0), "dy": ("number", 0.0)}, _duplicate, ("centre",)),
    "restyle": Op({"source_blob": ("source_blob", REQUIRED), "style": ("bool", True),
                   "structure": ("bool", False), "scene": ("scene", "source")}, _restyle),
    "forward": Op({}, _to_depth(lambda k, n: min(k + 1, n - 1))),
    "backward": Op({}, _to_depth(lambda k, n: max(k - 1, 0))),
    "to_front": Op({}, _to_depth(lambda k, n: n - 1)),
    "to_back": Op({}, _to_depth(lambda k, n: 0)),
}


def parse_edits(edits) -> list[Edit]:
    """Validate an edit list given as JSON text or a list of dicts. Blob ids are checked when applied."""
    if isinstance(edits, str):
        if not edits.strip():
            return []
        try:
            edits = json.loads(edits)
        except RecursionError:
            raise EditError("edits nests too deeply to be an edit list; expected a list of objects") from None
        except json.JSONDecodeError as e:
            raise EditError(f"edits is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
                            "expected a list like [{\"op\": \"move\", \"blob\": 0, \"dx\": 0.1, \"dy\": 0}]") from None
    if not isinstance(edits, list):
        raise EditError(f"edits must be a JSON list of edits, got {type(edits).__name__}")
    return [_parse_edit(i, e) for i, e in enumerate(edits)]


def _parse_edit(i: int, e) -> Edit:
    where = f"edit #{i}"
    if not isinstance(e, dict):
        raise EditError(f"{where} must be an object with an 'op', got {_show(e)}")
    op = e.get("op")
    if op not in OPS:
        raise EditError(f"{where}: unknown op {_show(op)}; allowed: {', '.join(OPS)}")
    where = f"edit #{i} ({op})"
    spec = OPS[op].fields
    unknown = sorted(set(e) - set(spec) - {"op", "blob"})
    if unknown:
        raise EditError(f"{where}: unknown field(s) {unknown}; allowed: {['op', 'blob', *spec]}")
    blob = e.get("blob")
    if isinstance(blob, bool) or not isinstance(blob, int) or blob < 0:
        raise EditError(f"{where}: 'blob' must be a blob id (an integer >= 0), got {_show(blob)}")
    args = {}
    for name, (kind, default) in spec.items():
        if name not in e:
            if default is REQUIRED:
                raise EditError(f"{where}: missing field {name!r}")
            args[name] = default
            continue
        args[name] = _check_field(where, name, kind, e[name])
    return Edit(op, blob, args)


def _check_field(where: str, name: str, kind: str, v):
    if kind in ("number", "positive"):
        # finite in float32, which the layout is held in (1e308 is a finite Python float, but not there)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= _FLOAT32_MAX
        if kind == "positive":
            ok = ok and v > 0
        if not ok:
            allowed = "a finite number" if kind == "number" else "a finite number > 0"
            allowed += f" of at most {_FLOAT32_MAX:.3g} in size"
            raise EditError(f"{where}: {name!r} must be {allowed}, got {_show(v)}")
        return float(v)
    if kind == "bool":
        if not isinstance(v, bool):
            raise EditError(f"{where}: {name!r} must be true or false, got {_show(v)}")
        return v
    if kind == "scene":
        if v not in ("source", "self"):
            raise EditError(f"{where}: 'scene' must be \"source\" or \"self\", got {_show(v)}")
        return v
    if kind == "source_blob":
        if v == "background" or (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            return v
        raise EditError(f"{where}: 'source_blob' must be a blob id (integer >= 0) or \"background\", got {_show(v)}")
    raise AssertionError(kind)


def apply_edits(layout: Layout, edits, source: Layout | None = None) -> tuple[Layout, list[int]]:
    """Apply an edit list (JSON text, list of dicts, or parsed :class:`Edit` s) to a layout.

    Blob ids are the input's blob indices 0..K-1; duplicates get K, K+1, ... in order. ``source`` is the
    scene restyle edits take vectors from (``"scene": "source"``). Returns the edited layout and ``ids``,
    the id of the blob at each depth index of the result (back to front).
    """
    parsed = edits if edits and isinstance(edits[0], Edit) else parse_edits(edits)
    ids = list(range(layout.n_blobs))
    original = layout
    for i, e in enumerate(parsed):
        where = f"edit #{i} ({e.op})"
        if e.blob not in ids:
            raise EditError(f"{where}: no blob with id {e.blob}; valid ids: 0..{len(ids) - 1}")
        op = OPS[e.op]
        layout, ids = op.apply(layout, ids, ids.index(e.blob), e.args, _Context(original, source, where))
        if op.limits:
            # a duplicate is the new blob, drawn last; any other op changes the blob it names
            _check_blob(layout, len(ids) - 1 if e.op == "duplicate" else ids.index(e.blob), where, op.limits)
    return layout, ids


def _check_blob(layout: Layout, k: int, where: str, limits: tuple[str, ...]) -> None:
    """Refuse an edit that leaves blob k unrenderable: ``limits`` names what the edit changed ("centre",
    "size", "shape"; see MAX_CENTRE, MAX_SIZE, MAX_ELONGATION)."""
    if "centre" in limits:
        centre = torch.stack([layout.xs[:, k], layout.ys[:, k]], -1)          # [N,2]
        if not float(centre.abs().max()) <= MAX_CENTRE:                      # NaN fails this too
            raise EditError(f"{where} would move its blob to {_show(centre[0].tolist())}; centres must stay "
                            f"within +-{MAX_CENTRE:g} image widths")
    if "size" in limits:
        size = layout.sizes[:, k + 1]                                        # [N]
        if not float(size.max()) <= MAX_SIZE or not bool(torch.isfinite(size).all()):
            raise EditError(f"{where} would grow its blob to size {float(size.max()):g}; at most {MAX_SIZE:g}")
    if "shape" not in limits:
        return
    cov = layout.covs[:, k].double()                                         # [N,2,2]
    # eigenvalues of a symmetric 2x2 in closed form, in float64: cheaper than a LAPACK call per edit
    half_trace = (cov[:, 0, 0] + cov[:, 1, 1]) / 2
    root = (((cov[:, 0, 0] - cov[:, 1, 1]) / 2) ** 2 + cov[:, 0, 1] * cov[:, 1, 0]).clamp(min=0).sqrt()
    small, large = half_trace - root, half_trace + root
    ok = bool(torch.isfinite(cov).all()) and bool((small > 0).all())
    ratio = float((large / small).max().sqrt()) if ok else math.inf
    if not ratio <= MAX_ELONGATION:
        raise EditError(f"{where} would stretch its blob to an axis ratio of {ratio:.3g}; at most "
                        f"{MAX_ELONGATION:g} (use an aspect closer to 1)")


def _show(value) -> str:
    """A short repr for error messages, safe for deeply nested or huge values."""
    return reprlib.repr(value)
