"""Run a ComfyUI workflow of this pack's nodes without ComfyUI: ``python path/to/pack WF.json --out DIR``.

The workflow may be in the UI format (what the frontend saves: ``nodes`` + ``links``, positional
``widgets_values``) or the API format (``{id: {"class_type", "inputs"}}``, File > Export (API)). Nodes
run in dependency order through their classes, exactly as ComfyUI calls them. Core ``SaveImage`` and
``PreviewImage`` nodes are read as "save the image": their images are written to ``--out``. A workflow
without them gets the outputs of its Render Scene nodes written instead. Core ``LoadImage`` nodes
read their file from ``--input`` (default: an ``input`` folder beside the workflow, then the current
folder). Notes, reroutes and primitive nodes are resolved away as the frontend does; muted nodes are
dropped and bypassed ones passed through.
Any other node type is an error that names it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from blobgan_core.images import save_comfy_images

from . import comfy
from .inputs import declared_inputs

SAVE_NODES = {"SaveImage": ["filename_prefix"], "PreviewImage": []}  # core class -> widget names
LOAD_IMAGE = "LoadImage"
VIRTUAL_NODES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
MODE_MUTED, MODE_BYPASSED = 2, 4
LOADER_ID = "BlobGANLoader"
RENDER_ID = "BlobGANRenderScene"

Prompt = dict[str, dict]  # API format: node id -> {"class_type": str, "inputs": {name: value | [src, slot]}}


# -- the node pack -----------------------------------------------------------------------------------

def node_classes() -> dict[str, type]:
    """This pack's node classes by id, as ComfyUI registers them."""
    from . import NODE_CLASS_MAPPINGS

    return dict(NODE_CLASS_MAPPINGS)


def widget_names(cls) -> list[str | None]:
    """Names of the widgets a node shows, in the order of the UI format's ``widgets_values``; None marks
    the extra "control after generate" value the frontend saves after a seed widget."""
    names: list[str | None] = []
    for name, d in declared_inputs(cls).items():
        t, opts = d["type"], d["options"]
        if d["section"] == "hidden" or opts.get("forceInput"):
            continue
        if isinstance(t, (list, tuple)) or t in WIDGET_TYPES:
            names.append(name)
            if opts.get("image_upload"):  # Load Image: the frontend saves its upload button's value too
                names.append(None)
            if t == "INT" and (opts.get("control_after_generate") or name in ("seed", "noise_seed")):
                names.append(None)
    return names


# -- formats -----------------------------------------------------------------------------------------

def is_ui_format(workflow) -> bool:
    return isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list)


def as_prompt(workflow, classes: dict[str, type]) -> Prompt:
    """The API-format prompt of a workflow in either format (a copy; ``workflow`` is not modified)."""
    if is_ui_format(workflow):
        return ui_to_prompt(workflow, classes)
    if isinstance(workflow, dict) and isinstance(workflow.get("prompt"), dict):  # a POST /prompt body
        workflow = workflow["prompt"]
    if isinstance(workflow, dict) and workflow and all(
            isinstance(v, dict) and "class_type" in v for v in workflow.values()):
        return {str(k): {"class_type": v["class_type"], "inputs": dict(v.get("inputs", {})),
                         "_meta": dict(v.get("_meta", {}))} for k, v in workflow.items()}
    raise ValueError("not a ComfyUI workflow: expected the UI format (\"nodes\" and \"links\") or the API "
                     "format ({id: {\"class_type\", \"inputs\"}})")


def _links(workflow) -> dict[int, tuple[str, int, str]]:
    """link id -> (origin node id, origin slot, type); links are lists (format 0.4) or objects (1.0)."""
    out = {}
    for link in workflow.get("links") or []:
        if isinstance(link, dict):
            out[int(link["id"])] = (str(link["origin_id"]), int(link["origin_slot"]), str(link.get("type")))
        else:
            out[int(link[0])] = (str(link[1]), int(link[2]), str(link[5]) if len(link) > 5 else "*")
    return out


def ui_to_prompt(workflow: dict, classes: dict[str, type]) -> Prompt:
    """Convert the UI format to the API format, as the frontend's graphToPrompt does for our nodes."""
    if (workflow.get("definitions") or {}).get("subgraphs"):
        raise ValueError("workflows with subgraphs are not supported by the runner; unpack the subgraph first")
    nodes = {str(n["id"]): n for n in workflow["nodes"]}
    links = _links(workflow)

    def source(link_id, seen=()) -> tuple[str, int] | None:
        """The real node output behind a link, through reroutes and bypassed nodes; None when it comes
        from a primitive node (the target's widget value holds it) or a muted node."""
        if link_id is None or link_id not in links:
            return None
        origin, slot, link_type = links[link_id]
        if origin in seen:
            raise ValueError(f"node #{origin} loops through reroutes or bypassed nodes")
        node = nodes.get(origin)
        if node is None:
            raise ValueError(f"link {link_id} starts at node #{origin}, which is not in the workflow")
        if node["type"] == "Reroute":
            ins = node.get("inputs") or [{}]
            return source(ins[0].get("link"), (*seen, origin))
        if node["type"] == "PrimitiveNode" or node.get("mode", 0) == MODE_MUTED:
            return None
        if node.get("mode", 0) == MODE_BYPASSED:
            # the frontend passes a bypassed node's first input of the same type straight through
            for inp in node.get("inputs") or []:
                if inp.get("type") == link_type and inp.get("link") is not None:
                    return source(inp["link"], (*seen, origin))
            return None
        return origin, slot

    active = {nid: n for nid, n in nodes.items()
              if n["type"] not in VIRTUAL_NODES and n.get("mode", 0) not in (MODE_MUTED, MODE_BYPASSED)}
    _check_runnable({nid: n["type"] for nid, n in active.items()}, classes)
    prompt: Prompt = {}
    for node_id, node in active.items():
        kind = node["type"]
        names = widget_names(classes[kind]) if kind in classes else \
            ["image", None] if kind == LOAD_IMAGE else SAVE_NODES[kind]
        inputs = _widget_inputs(node, node_id, names)
        for inp in node.get("inputs") or []:
            src = source(inp.get("link"))
            if src is not None:
                inputs[inp["name"]] = [src[0], src[1]]
        prompt[node_id] = {"class_type": kind, "inputs": inputs, "_meta": {"title": node.get("title") or kind}}
    return prompt


def _widget_inputs(node: dict, node_id: str, names: list[str | None]) -> dict:
    values = node.get("widgets_values")
    if values is None:
        values = []
    if isinstance(values, dict):  # some frontends save widgets by name
        return {k: v for k, v in values.items() if k in names}
    if len(values) != len(names):
        shown = ", ".join(n if n is not None else "(control after generate)" for n in names) or "none"
        raise ValueError(f"node #{node_id} ({node['type']}) has {len(values)} widget values {values!r}, but "
                         f"the node has {len(names)} widgets: {shown}. Was it saved by another version "
                         "of the pack?")
    return {name: value for name, value in zip(names, values) if name is not None}


def _check_runnable(kinds: dict[str, str], classes: dict[str, type]) -> None:
    """Raise one error naming every node (id -> class) the runner cannot run."""
    bad = [f"#{nid} {kind!r}" for nid, kind in sorted(kinds.items(), key=lambda kv: _id_key(kv[0]))
           if kind not in classes and kind not in SAVE_NODES and kind != LOAD_IMAGE]
    if bad:
        runnable = sorted(classes) + sorted(SAVE_NODES) + [LOAD_IMAGE]
        raise ValueError(f"the headless runner cannot run node{'s' if len(bad) > 1 else ''} {', '.join(bad)}; it "
                         f"runs {', '.join(runnable)} (use ComfyUI itself for other nodes)")


# -- running -----------------------------------------------------------------------------------------

def _is_link(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], (str, int))
            and isinstance(value[1], int) and not isinstance(value[1], bool))


def execution_order(prompt: Prompt) -> list[str]:
    """Node ids with every node after the nodes it reads from (ties by id); a cycle is an error."""
    deps = {nid: {str(v[0]) for v in node["inputs"].values() if _is_link(v)} for nid, node in prompt.items()}
    for nid, ds in deps.items():
        missing = sorted(ds - set(prompt))
        if missing:
            raise ValueError(f"node #{nid} ({prompt[nid]['class_type']}) reads from node #{missing[0]}, which "
                             "is not in the workflow (deleted, muted or not runnable)")
    order, done = [], set()
    while len(order) < len(prompt):
        ready = sorted((nid for nid in prompt if nid not in done and deps[nid] <= done), key=_id_key)
        if not ready:
            raise ValueError(f"the workflow has a cycle among nodes {sorted(set(prompt) - done, key=_id_key)}")
        order.extend(ready)
        done.update(ready)
    return order


def _id_key(node_id: str):
    return (0, int(node_id), "") if node_id.isdigit() else (1, 0, node_id)


def _call_node(cls, node_id: str, kind: str, inputs: dict, prompt: Prompt):
    declared = declared_inputs(cls)
    kwargs = {}
    for name, d in declared.items():
        if d["section"] == "hidden":
            hidden = {"UNIQUE_ID": node_id, "PROMPT": prompt, "EXTRA_PNGINFO": {}, "DYNPROMPT": None}
            kwargs[name] = hidden.get(d["type"])
        elif name in inputs:
            kwargs[name] = inputs[name]
        elif d["section"] == "required":
            raise ValueError(f"required input {name!r} is not connected or set")
    result = getattr(cls(), cls.FUNCTION)(**kwargs)
    if isinstance(result, dict):
        result = result.get("result", ())
    return tuple(result)


def load_image(name, folders: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """ComfyUI's LoadImage for the runner: (IMAGE [1,H,W,3] in [0,1], MASK [1,H,W], 1 where the alpha
    channel is transparent, as ComfyUI makes it)."""
    import numpy as np
    from PIL import Image, ImageOps

    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"LoadImage: image must be a file name, got {name!r}")
    for folder in folders:
        path = folder / name
        if path.is_file():
            break
    else:
        raise ValueError(f"LoadImage: no {name!r} in {', '.join(str(f) for f in folders)} (give --input)")
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255
    image = torch.from_numpy(rgba[..., :3].copy())[None]
    mask = 1 - torch.from_numpy(rgba[..., 3].copy())[None]
    return image, mask


def execute_prompt(prompt: Prompt, classes: dict[str, type], log: Callable[[str], None] = lambda s: None,
                   save: Callable[[str, dict], None] = lambda node_id, inputs: None,
                   input_folders: list[Path] = ()) -> dict[str, tuple]:
    """Run an API-format prompt node by node; returns every node's outputs (node id -> tuple). Save and
    preview nodes produce no outputs; ``save(node_id, inputs)`` is called for each of them instead."""
    _check_runnable({nid: node["class_type"] for nid, node in prompt.items()}, classes)
    order = execution_order(prompt)
    outputs: dict[str, tuple] = {}
    for step, node_id in enumerate(order, 1):
        node = prompt[node_id]
        kind = node["class_type"]
        log(f"[{step}/{len(order)}] #{node_id} {node.get('_meta', {}).get('title') or kind}")
        inputs = {}
        for name, value in node["inputs"].items():
            if _is_link(value):
                src, slot = str(value[0]), value[1]
                if slot >= len(outputs[src]):
                    raise ValueError(f"node #{node_id} ({kind}) input {name!r} reads output {slot} of node "
                                     f"#{src}, which has {len(outputs[src])} outputs")
                inputs[name] = outputs[src][slot]
            else:
                inputs[name] = value["__value__"] if isinstance(value, dict) and "__value__" in value else value
        if kind in SAVE_NODES:
            if "images" not in inputs:
                raise ValueError(f"node #{node_id} ({kind}): its 'images' input is not connected")
            images = inputs["images"]
            if not isinstance(images, torch.Tensor) or images.dim() not in (3, 4):
                raise ValueError(f"node #{node_id} ({kind}): its 'images' input must be an IMAGE, got "
                                 f"{type(images).__name__}")
            save(node_id, inputs)
            outputs[node_id] = ()
            continue
        if kind == LOAD_IMAGE:
            outputs[node_id] = load_image(inputs.get("image"), list(input_folders) or [Path.cwd()])
            continue
        try:
            outputs[node_id] = _call_node(classes[kind], node_id, kind, inputs, prompt)
        except ValueError as e:
            raise ValueError(f"node #{node_id} ({kind}): {e}") from e
    return outputs


def run_prompt(prompt: Prompt, classes: dict[str, type], out_dir: str | Path,
               log: Callable[[str], None] = lambda s: None, input_folders: list[Path] = ()) -> list[Path]:
    """Run an API-format prompt; returns the PNG files written to ``out_dir``. Images are written once the
    whole prompt has run, so a run that fails leaves no partial output."""
    out_dir = check_out_dir(out_dir)
    pending: list[tuple[object, str]] = []  # (IMAGE or MASK, file stem)

    def save(node_id: str, inputs: dict) -> None:
        prefix = str(inputs.get("filename_prefix") or "preview")
        pending.append((inputs["images"], f"{_safe(prefix)}_{node_id}"))

    outputs = execute_prompt(prompt, classes, log, save, input_folders)
    if not any(node["class_type"] in SAVE_NODES for node in prompt.values()):
        for node_id in execution_order(prompt):
            if prompt[node_id]["class_type"] == RENDER_ID:
                image, blob_map = outputs[node_id][:2]
                pending += [(image, f"render_{node_id}"), (blob_map, f"render_{node_id}_blob_map")]
    return [f for images, stem in pending for f in save_comfy_images(images, out_dir, stem)]


def check_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, refused before anything runs when it cannot hold files."""
    out_dir = Path(out_dir)
    for parent in (out_dir, *out_dir.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"--out: {parent} is a file, not a folder")
            break
    return out_dir


def _safe(prefix: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in prefix).strip("._") or "image"


def override_loaders(prompt: Prompt, model: Path | None, device: str | None) -> None:
    """Make every Load BlobGAN node of ``prompt`` load the file ``model`` (by name: its folder must be
    searched, see ``comfy.extra_model_folder``) and use ``device``; None leaves a node's own choice."""
    for node in prompt.values():
        if node["class_type"] == LOADER_ID:
            if model is not None:
                node["inputs"]["model_name"] = Path(model).name
            if device is not None:
                node["inputs"]["device"] = device


def run_workflow(workflow: dict | str | Path, out_dir: str | Path, *, model: str | Path | None = None,
                 device: str | None = None, log: Callable[[str], None] = lambda s: None,
                 input_dir: str | Path | None = None) -> list[Path]:
    """Run a workflow (a dict, or the path of a JSON file) and return the PNG files written.

    ``model``: a checkpoint file every Load BlobGAN node loads instead of its own choice; ``device``:
    a device every Load BlobGAN node uses ("auto", "cpu", "cuda", "mps"); ``input_dir``: where LoadImage
    nodes find their files (default: ``input/`` beside the workflow file, then the current folder)."""
    folders = [Path(input_dir)] if input_dir is not None else []
    if isinstance(workflow, (str, Path)):
        path = Path(workflow)
        if input_dir is None:
            folders.append(path.resolve().parent / "input")
        if not path.is_file():
            raise ValueError(f"{path}: {'a folder' if path.is_dir() else 'no such file'}; give a workflow .json file")
        try:
            workflow = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text file; give a workflow .json file") from None
        except (json.JSONDecodeError, RecursionError) as e:
            raise ValueError(f"{path} is not valid JSON ({e})") from None
    classes = node_classes()
    prompt = as_prompt(workflow, classes)
    folder = None
    if model is not None:
        model = Path(model)
        if not model.is_file():
            raise FileNotFoundError(f"--model: no checkpoint at {model}")
        folder = model.resolve().parent
    override_loaders(prompt, model, device)
    with comfy.extra_model_folder(folder):
        return run_prompt(prompt, classes, out_dir, log=log, input_folders=[*folders, Path.cwd()])


def run_cli(argv: list[str]) -> int:
    """Run a workflow of BlobGAN nodes headlessly and write its images as PNG files."""
    p = argparse.ArgumentParser(prog="python path/to/comfyui-blobgan", description=run_cli.__doc__)
    p.add_argument("workflow", help="workflow JSON, UI format (as saved by ComfyUI) or API format")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--model", default=None, help="checkpoint every Load BlobGAN node uses instead of its own")
    p.add_argument("--device", default=None, choices=["auto", "cpu", "cuda", "mps"],
                   help="device every Load BlobGAN node uses instead of its own")
    p.add_argument("--input", default=None, help="folder LoadImage nodes read from (default: input/ beside "
                                                 "the workflow, then the current folder)")
    a = p.parse_args(argv)
    files = run_workflow(a.workflow, a.out, model=a.model, device=a.device, input_dir=a.input,
                         log=lambda s: print(s, file=sys.stderr))
    for f in files:
        print(f)
    if not files:
        print("the workflow wrote no images (it has no Save Image, Preview Image or Render Scene node)",
              file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: one line on stderr and exit status 1 for a workflow or model it cannot run."""
    try:
        return run_cli(sys.argv[1:] if argv is None else argv)
    except (ValueError, OSError) as e:  # what a user can fix: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 1
