"""Blob ids on BLOB_SCENE wires: pure functions the scene and mask nodes share.

A scene's ``ids[k]`` is the id of the blob at depth index k. Sampling numbers the blobs 0..K-1 in depth
order; depth edits (forward, to_back, ...) reorder blobs but keep their ids, and duplicates get K, K+1, ...
So ids are always a permutation of 0..K-1, and the numbers a user reads on the blob map, types into an
edit list or a mask's id list, stay the same through a chain of Edit Blob nodes.
"""

from __future__ import annotations

import dataclasses
import re

import torch

from blobgan_core.edits import apply_edits, parse_edits, reorder_blobs
from blobgan_core.scene import Scene
from blobgan_core.splat import blob_opacities, composite, splat
from blobgan_core.visualize import DEFAULT_SIZE_THRESHOLD, blob_colors, label_blobs


def edit_scene(scene: Scene, edits, source: Scene | None = None) -> Scene:
    """Apply an edit list (docs/edit-list.md; JSON text or a list of dicts) whose blob ids are the ids
    of ``scene`` (and, for restyle, of ``source``). Returns a new scene; raises EditError naming the edit.

    The core's ``apply_edits`` addresses blobs by depth index, so ids are translated to depth indices on
    the way in and the result's depth order is translated back to ids on the way out."""
    n_blobs = scene.layout.n_blobs
    index_of = {blob_id: k for k, blob_id in enumerate(scene.ids)}
    source_index_of = {blob_id: k for k, blob_id in enumerate(source.ids)} if source is not None else {}
    translated = []
    for e in parse_edits(edits):
        # ids >= K name duplicates made earlier in this list: the same number in both numberings
        args = e.args
        if e.op == "restyle" and isinstance(args["source_blob"], int):
            table = index_of if args["scene"] == "self" else source_index_of
            args = {**args, "source_blob": table.get(args["source_blob"], args["source_blob"])}
        translated.append(dataclasses.replace(e, blob=index_of.get(e.blob, e.blob), args=args))
    layout, order = apply_edits(scene.layout, translated, source=source.layout if source is not None else None)
    ids = [scene.ids[i] if i < n_blobs else i for i in order]
    return scene.with_layout(layout, ids)


def parse_blob_ids(text: str, scene: Scene) -> list[int] | None:
    """"all" -> None; "1, 3, 5-7" -> the depth indices of those blob ids (in the order given, without
    repeats). Raises ValueError naming the bad entry and the valid ids."""
    valid = f"valid ids: 0..{len(scene.ids) - 1}, or \"all\""
    text = (text or "").strip()
    if text.lower() == "all":
        return None
    if not text:
        raise ValueError(f"empty; give blob ids like \"1, 3, 5-7\" ({valid})")
    index_of = {blob_id: k for k, blob_id in enumerate(scene.ids)}
    out: list[int] = []
    for token in re.split(r"[,;\s]+", text):
        if not token:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", token)
        if m is None:
            raise ValueError(f"{token!r} is not a blob id or a range like 5-7; {valid}")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            raise ValueError(f"range {token!r} runs backwards; write {hi}-{lo}")
        for blob_id in range(lo, hi + 1):
            if blob_id not in index_of:
                raise ValueError(f"no blob with id {blob_id}; {valid}")
            if index_of[blob_id] not in out:
                out.append(index_of[blob_id])
    return out


@torch.no_grad()
def scene_blob_map(scene: Scene, labels: bool = True, size: int | None = None) -> torch.Tensor:
    """The official blob map (palette colours, opacity doubling) of a scene, coloured and labelled by
    blob id rather than depth index, so a blob keeps its colour and number when it is brought forward.
    [N,3,size,size] in [0,1]; ``size`` defaults to the render resolution. For a scene without depth
    edits this equals ``model.blob_map(layout, labels=labels)``."""
    model = scene.model
    size = size or model.resolution
    palette = model.config.palette
    layout = scene.layout.to(model.device, torch.float32)
    opacity = (blob_opacities(layout, size) * 2).clamp(max=1)           # [N,K,S,S], doubled as shown officially
    alpha = composite(opacity)                                            # [N,K+1,S,S]
    colors = blob_colors(palette, layout.n_blobs).to(alpha)               # [K+1,3], row id+1 = blob id's colour
    by_depth = colors[[0, *(blob_id + 1 for blob_id in scene.ids)]]       # [K+1,3], row k+1 = depth index k
    maps = splat(alpha, by_depth.expand(layout.batch, -1, -1))            # [N,3,S,S]
    if not labels:
        return maps
    # label_blobs writes each blob's position in the layout as its number: put blobs in id order for it
    by_id = reorder_blobs(layout.to("cpu"), [scene.ids.index(i) for i in range(layout.n_blobs)])
    out = []
    for i, m in enumerate(maps):
        arr = (m.permute(1, 2, 0).cpu().numpy() * 255).round().clip(0, 255).astype("uint8")
        arr = label_blobs(arr, by_id, i, palette, DEFAULT_SIZE_THRESHOLD)
        out.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255)
    return torch.stack(out).to(maps.device)
