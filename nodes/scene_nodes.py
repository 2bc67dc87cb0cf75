"""Sample Blobs, Edit Blob and Render Scene: the BLOB_SCENE nodes.

A BLOB_SCENE is a ``blobgan_core.scene.Scene``: the model, the layout, the noise seed and the blob ids,
so one wire carries everything Render Scene needs to reproduce an image.
"""

from __future__ import annotations

import torch

from blobgan_core.edits import EditError
from blobgan_core.images import to_comfy_image
from blobgan_core.scene import Scene

from . import comfy
from .errors import input_error
from .inputs import checked_inputs
from .preview import editor_ui, remember_scene

MAX_SEED = 0xFFFFFFFFFFFFFFFF
MAX_BATCH = 64
RENDER_CHUNK = 4  # scenes decoded per step: progress and Cancel stay responsive on large batches


def check_scene(node: str, name: str, scene) -> Scene:
    if not isinstance(scene, Scene):
        raise input_error(node, name, f"expected a BLOB_SCENE (from Sample Blobs, Invert Image or Edit Blob), got "
                          f"{type(scene).__name__}")
    return scene


@checked_inputs("Sample Blobs")
class SampleBlobs:
    DESCRIPTION = ("Samples blob layouts from a BlobGAN: each scene is a set of blobs (position, size, "
                   "shape, structure and style) that the decoder turns into an image. The seed picks the "
                   "layout and the decoder noise, so a seed always gives the same image.")
    CATEGORY = "BlobGAN"
    FUNCTION = "sample"
    RETURN_TYPES = ("BLOB_SCENE",)
    RETURN_NAMES = ("scene",)
    OUTPUT_TOOLTIPS = ("The sampled scenes (model, blobs and noise seed), for Edit Blob, Render Scene and "
                       "Blob Masks.",)
    SEARCH_ALIASES = ["blobgan sample", "random layout", "generate blobs"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("BLOBGAN_MODEL", {"tooltip": "The generator from Load BlobGAN."}),
                "seed": ("INT", {
                    "default": 0, "min": 0, "max": MAX_SEED, "control_after_generate": True,
                    "tooltip": "Picks the layout and the decoder noise; the same seed gives the same scene."}),
                "truncation": ("FLOAT", {
                    "default": 0.4, "min": 0.0, "max": 1.0, "step": 0.01,
                    "tooltip": "Pulls layouts toward the average one: 0 = none (most varied), 1 = the mean "
                               "layout. 0.4 is the official default."}),
                "batch_size": ("INT", {
                    "default": 1, "min": 1, "max": MAX_BATCH,
                    "tooltip": "Number of scenes, all drawn from this one seed."}),
            }
        }

    def sample(self, model, seed, truncation, batch_size):
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "sample_layout"):
            raise input_error("Sample Blobs", "model", f"expected a BLOBGAN_MODEL from Load BlobGAN, got "
                              f"{type(model).__name__}")
        comfy.prepare(model)
        layout = model.sample_layout(seed=seed, batch=batch_size, truncation=truncation)
        return (Scene(model, layout, noise_seed=seed),)


@checked_inputs("Edit Blob")
class EditBlob:
    DESCRIPTION = ("Edits blobs of a scene with an edit list: move, resize, reshape (aspect), rotate, remove, "
                   "duplicate, restyle (from the optional source scene) and depth order (forward, backward, "
                   "to_front, to_back). Blob ids are the numbers on the input scene's blob map; duplicates "
                   "get the next free ids. See docs/edit-list.md for every op and field.")
    CATEGORY = "BlobGAN"
    FUNCTION = "edit"
    RETURN_TYPES = ("BLOB_SCENE",)
    RETURN_NAMES = ("scene",)
    OUTPUT_TOOLTIPS = ("The edited scene; blob ids are kept, so later nodes can use the same numbers.",)
    SEARCH_ALIASES = ["move blob", "blobgan edit", "restyle blob", "remove object"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "scene": ("BLOB_SCENE", {
                    "tooltip": "The scene to edit (from Sample Blobs, Invert Image or Edit Blob)."}),
                "edits": ("STRING", {
                    "default": "[]", "multiline": True,
                    "placeholder": '[{"op": "move", "blob": 3, "dx": 0.1, "dy": 0}]',
                    "tooltip": "The edit list as JSON, applied in order: a list of objects with \"op\", "
                               "\"blob\" (an id from the blob map) and the op's fields; coordinates are "
                               "normalized (the image is 1 wide and 1 tall, y down). [] = no edits."}),
            },
            "optional": {
                "source_scene": ("BLOB_SCENE", {
                    "tooltip": "Scene that restyle edits take style/structure vectors from (\"source_blob\" "
                               "is one of its ids). Not needed for other ops or with \"scene\": \"self\"."}),
            },
            # the editor widget's live preview needs to know which node's scene it edits
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def edit(self, scene, edits, source_scene=None, unique_id=None):
        scene = check_scene("Edit Blob", "scene", scene)
        if source_scene is not None:
            source_scene = check_scene("Edit Blob", "source_scene", source_scene)
            mine, theirs = scene.model.config, source_scene.model.config
            if (mine.d_in, mine.d_style) != (theirs.d_in, theirs.d_style):
                raise input_error("Edit Blob", "source_scene", "comes from a model with other feature sizes "
                                  f"(d_in={theirs.d_in}, d_style={theirs.d_style}; this scene's model has "
                                  f"d_in={mine.d_in}, d_style={mine.d_style}); sample it with the same model")
        # before the edits are checked: the widget's preview works while the list is being fixed
        remember_scene(unique_id, scene, source_scene)
        try:
            edited = scene.edit(edits, source_scene)
        except EditError as e:
            raise input_error("Edit Blob", "edits", str(e)) from None
        except ValueError as e:  # e.g. a source scene whose batch fits neither 1 nor the scene's
            raise input_error("Edit Blob", "edits" if source_scene is None else "source_scene", str(e)) from None
        # the input scene's image and blob geometry for the editor widget (web/js/blob_editor.js)
        return {"ui": editor_ui(unique_id, scene, source=source_scene), "result": (edited,)}


@checked_inputs("Render Scene")
class RenderScene:
    DESCRIPTION = ("Decodes a scene into images with the scene's own noise seed, so the same scene always "
                   "renders the same, and draws its blob map (blob colours, with id labels if asked). "
                   "Shows both as previews.")
    CATEGORY = "BlobGAN"
    FUNCTION = "render"
    OUTPUT_NODE = True
    RETURN_TYPES = ("IMAGE", "IMAGE")
    RETURN_NAMES = ("image", "blob_map")
    OUTPUT_TOOLTIPS = ("The rendered images, [B,H,W,3] at the model's resolution.",
                       "The blob maps: each blob in its palette colour, with its id if labels is on.")
    SEARCH_ALIASES = ["blobgan render", "decode scene", "blob map"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "scene": ("BLOB_SCENE", {
                    "tooltip": "The scene to render (from Sample Blobs, Invert Image or Edit Blob)."}),
                "labels": ("BOOLEAN", {
                    "default": True, "label_on": "ids", "label_off": "none",
                    "tooltip": "Write each visible blob's id at its centre on the blob map."}),
            }
        }

    def render(self, scene, labels=True):
        scene = check_scene("Render Scene", "scene", scene)
        comfy.prepare(scene.model)
        n = scene.layout.batch
        chunks = range(0, n, RENDER_CHUNK)
        progress = comfy.Progress(len(chunks) + 1)
        images = []
        with torch.no_grad():
            for start in chunks:
                part = slice(start, start + RENDER_CHUNK)
                images.append(to_comfy_image(scene.select(part).render()))
                progress.step()
            image = torch.cat(images)                                       # [B,R,R,3]
            blob_map = scene.blob_map(labels=bool(labels)).movedim(1, -1).float().cpu()  # [B,R,R,3]
        progress.step()
        previews = comfy.save_previews(torch.cat([image, blob_map]), prefix="blobgan_render")
        return {"ui": {"images": previews}, "result": (image, blob_map)}
