"""The main job, shown: sample a scene, edit its blobs and write what changed.

    python scripts/demo.py [--out DIR] [--model FILE] [--device cpu|cuda|mps|auto]

Runs example_workflows/blobgan_edit.json with the headless runner (on the embedded default model unless
--model names a checkpoint) and writes, into DIR (default: out):

    before.png, after.png               the scene before and after the edit list
    before_blobs.png, after_blobs.png   their blob maps, each blob labelled with its id (256 px or more)
    edit_sheet.png                      all four side by side: images on top, blob maps below

then prints the edit list and where the files are.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blobgan_core.images import image_grid, save_png, unit_to_uint8  # noqa: E402
from nodes.comfy import extra_model_folder  # noqa: E402
from nodes.runner import as_prompt, check_out_dir, execute_prompt, node_classes, override_loaders  # noqa: E402

WORKFLOW = ROOT / "example_workflows" / "blobgan_edit.json"
BEFORE, AFTER = "Render Scene (before)", "Render Scene (after)"  # node titles in the workflow
SHEET_TILE = 256  # blob maps are drawn at least this large, and the renders upscaled (nearest) to match


def run_edit(model: Path | None = None, device: str | None = None) -> tuple[dict[str, np.ndarray], str]:
    """Run the edit workflow; returns ({"before", "after"}: the renders, uint8 [R,R,3], and {"before_blobs",
    "after_blobs"}: the blob maps, uint8 [S,S,3], S the first multiple of R >= SHEET_TILE, of the first scene; the edit
    list text)."""
    classes = node_classes()
    prompt = as_prompt(json.loads(WORKFLOW.read_text()), classes)
    override_loaders(prompt, model, device)
    with extra_model_folder(model.resolve().parent if model is not None else None):
        outputs = execute_prompt(prompt, classes, log=lambda s: print(s, file=sys.stderr))
    titled = {node["_meta"]["title"]: node_id for node_id, node in prompt.items()}
    pictures = {}
    for name, title in (("before", BEFORE), ("after", AFTER)):
        node_id = titled[title]
        image = outputs[node_id][0]                                   # IMAGE [B,R,R,3] in [0,1]
        pictures[name] = unit_to_uint8(image.movedim(-1, 1))[0]
        # the blob map of the scene that node renders, drawn at the sheet's size so its id labels are legible
        source, slot = prompt[node_id]["inputs"]["scene"]
        scene = outputs[str(source)][slot]
        size = scene.resolution * -(-SHEET_TILE // scene.resolution)  # a whole multiple of the render's side
        pictures[f"{name}_blobs"] = unit_to_uint8(scene.blob_map(labels=True, size=size))[0]
    edits = next(node["inputs"]["edits"] for node in prompt.values() if node["class_type"] == "BlobGANEditBlob")
    return pictures, edits


def edit_sheet(pictures: dict[str, np.ndarray]) -> np.ndarray:
    """before | after over before_blobs | after_blobs, on white; the renders are upscaled (nearest) to the
    blob maps' size."""
    side = pictures["before_blobs"].shape[0]
    scale = side // pictures["before"].shape[0]
    images = image_grid(np.stack([pictures["before"], pictures["after"]]), columns=2, scale=scale, gap=8,
                        background=255)
    maps = image_grid(np.stack([pictures["before_blobs"], pictures["after_blobs"]]), columns=2, gap=8,
                      background=255)
    return np.concatenate([images[:-8], maps])  # one 8 px gap between the rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--model", default=None, type=Path, help="checkpoint to use instead of the embedded default")
    p.add_argument("--device", default=None, choices=["auto", "cpu", "cuda", "mps"])
    a = p.parse_args(argv)
    try:
        out = check_out_dir(a.out)
        if a.model is not None and not a.model.is_file():
            raise ValueError(f"--model: no checkpoint at {a.model}")
        pictures, edits = run_edit(a.model, a.device)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    written = {name: save_png(out / f"{name}.png", image) for name, image in pictures.items()}
    written["edit_sheet"] = save_png(out / "edit_sheet.png", edit_sheet(pictures))
    print(f"The edit list of {WORKFLOW.relative_to(ROOT)} (blob ids are the labels on the blob maps):")
    for edit in json.loads(edits):
        print(f"  {json.dumps(edit)}")
    print(f"before:           {written['before']}")
    print(f"after:            {written['after']}")
    print(f"blob maps:        {written['before_blobs']}, {written['after_blobs']}")
    print(f"side by side:     {written['edit_sheet']}  (top: before | after; below: their blob maps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
