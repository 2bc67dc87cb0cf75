"""Make the example workflows' thumbnails from real renders of the workflows themselves.

    python tests/make_example_thumbnails.py [--model FILE] [NAME.json ...]   # default: the embedded model, all

ComfyUI's Templates browser shows ``example_workflows/<name>.jpg`` beside ``<name>.json`` (both the pinned
1.27 frontend and 1.58 ask for ``.jpg``). Each workflow runs headlessly (nodes that need a diffusion
checkpoint are left out) and two of its images are put side by side. Re-run this when the embedded
default model changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nodes.comfy import extra_model_folder  # noqa: E402
from nodes.runner import as_prompt, execute_prompt, node_classes  # noqa: E402

EXAMPLES = ROOT / "example_workflows"
PANEL = 320  # side of each image in the card, px
# workflow -> panels: (node title or class, output index[, batch item]); ("overlay", image node, mask node)
# tints a mask
PANELS = {
    "blobgan_generate.json": [("BlobGANRenderScene", 0), ("BlobGANRenderScene", 1)],
    "blobgan_edit.json": [("Render Scene (before)", 0), ("Render Scene (after)", 0)],
    "blobgan_drag_points.json": [("Render Scene (before)", 0), ("BlobGANDragPoints", 1)],
    "blobgan_masks_inpaint.json": [("BlobGANRenderScene", 0), ("overlay", "BlobGANRenderScene", "BlobGANBlobMasks")],
    # the first, middle and last frames
    "blobgan_animate.json": [("BlobGANAnimateScenes", 0, 0), ("BlobGANAnimateScenes", 0, 12),
                             ("BlobGANAnimateScenes", 0, -1)],
    # the picture, the edit list's composite, the drag's composite
    "blobgan_invert_edit.json": [("LoadImage", 0), ("BlobGANCompositeEdit", 0), ("Composite Edit (drag)", 0)],
}


def runnable_part(workflow: dict, classes: dict) -> dict:
    """Only the workflow's BlobGAN nodes (and the links between them): no saving, no diffusion."""
    keep = {n["id"] for n in workflow["nodes"] if n["type"] in classes or n["type"] == "LoadImage"}
    links = [lk for lk in workflow["links"] if lk[1] in keep and lk[3] in keep]
    live = {lk[0] for lk in links}
    nodes = []
    for n in workflow["nodes"]:
        if n["id"] in keep:
            n = {**n, "inputs": [{**i, "link": i.get("link") if i.get("link") in live else None}
                                 for i in n.get("inputs") or []]}
            nodes.append(n)
    return {**workflow, "nodes": nodes, "links": links}


def find(prompt: dict, outputs: dict, name: str, index: int, item: int = 0) -> torch.Tensor:
    for node_id, node in prompt.items():
        if name in (node["class_type"], node.get("_meta", {}).get("title")):
            return outputs[node_id][index][item]  # by default the first scene of the batch
    raise KeyError(f"no node {name!r} in the workflow")


def panel(image: torch.Tensor) -> Image.Image:
    """IMAGE [H,W,3] (or MASK [H,W]) in [0,1] -> a PANEL x PANEL RGB picture."""
    arr = (image.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(arr).convert("RGB").resize((PANEL, PANEL), Image.LANCZOS)


def overlay(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Tint where ``mask`` [h,w] is on, in red, over ``image`` [H,W,3]."""
    m = F.interpolate(mask[None, None].float(), size=image.shape[:2], mode="bilinear")[0, 0, ..., None]
    red = torch.tensor([1.0, 0.15, 0.15])
    return image * (1 - 0.6 * m) + red * 0.6 * m


def thumbnail(name: str, model: str | None, classes: dict) -> Path:
    workflow = runnable_part(json.loads((EXAMPLES / name).read_text()), classes)
    prompt = as_prompt(workflow, classes)
    if model is not None:
        for node in prompt.values():
            if node["class_type"] == "BlobGANLoader":
                node["inputs"]["model_name"] = Path(model).name
    outputs = execute_prompt(prompt, classes, input_folders=[EXAMPLES / "input"])
    pictures = []
    for spec in PANELS[name]:
        if spec[0] == "overlay":
            pictures.append(panel(overlay(find(prompt, outputs, spec[1], 0), find(prompt, outputs, spec[2], 0))))
        else:
            pictures.append(panel(find(prompt, outputs, *spec)))
    card = Image.new("RGB", (PANEL * len(pictures), PANEL))
    for i, p in enumerate(pictures):
        card.paste(p, (i * PANEL, 0))
    out = EXAMPLES / name.replace(".json", ".jpg")
    card.save(out, quality=90)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="checkpoint to render with (default: the embedded model)")
    p.add_argument("names", nargs="*", metavar="NAME.json", help="workflows to make thumbnails of (default: all)")
    a = p.parse_args(argv)
    unknown = sorted(set(a.names) - set(PANELS))
    if unknown:
        p.error(f"no thumbnail recipe for {unknown}; known: {list(PANELS)}")
    classes = node_classes()
    with extra_model_folder(Path(a.model).resolve().parent if a.model is not None else None):
        for name in a.names or PANELS:
            print(thumbnail(name, a.model, classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
