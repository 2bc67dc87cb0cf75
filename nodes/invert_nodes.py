"""Invert Image and Composite Edit: a user's picture in, the edit back into the picture."""

from __future__ import annotations

import torch

from blobgan_core.composite import composite_edit
from blobgan_core.images import from_comfy_image, to_comfy_image
from blobgan_core.invert import FITS, PRESETS, invert
from blobgan_core.invert.tuning import base_model

from . import comfy
from .errors import input_error
from .inputs import checked_inputs
from .scene_nodes import check_scene

INVERT = "Invert Image"
COMPOSITE = "Composite Edit"
PRESET_NAMES = list(PRESETS)


def _picture(node: str, name: str, image) -> torch.Tensor:
    """ComfyUI IMAGE [B,H,W,C] (C = 1, 3 or 4) -> RGB [B,3,H,W] in [-1,1], with errors naming the input."""
    if not isinstance(image, torch.Tensor):
        raise input_error(node, name, f"expected an IMAGE, got {type(image).__name__}")
    if image.dim() == 3:
        image = image[None]
    if image.dim() != 4 or image.shape[-1] not in (1, 3, 4):
        raise input_error(node, name, f"expected an IMAGE [B,H,W,3] (1 or 4 channels are converted), got "
                          f"shape {list(image.shape)}")
    if image.shape[0] == 0:
        raise input_error(node, name, "is an empty batch")
    return from_comfy_image(image)


@checked_inputs(INVERT)
class InvertImage:
    DESCRIPTION = ("Turns your picture into an editable BlobGAN scene: blobs you can move, resize, remove or "
                   "restyle with Edit Blob, drag with Drag Points, and mask with Blob Masks. The picture is "
                   "centre-cropped (or stretched) to the model's square frame. Presets run from fast (the "
                   "model's encoder and a short fit of the blobs) to faithful (a longer fit plus a decoder "
                   "tuned to each picture; the loaded model itself is untouched). Put the edit back into the full-size "
                   "picture with Composite Edit. See docs/invert.md.")
    CATEGORY = "BlobGAN"
    FUNCTION = "invert"
    OUTPUT_NODE = True
    RETURN_TYPES = ("BLOB_SCENE", "IMAGE")
    RETURN_NAMES = ("scene", "reconstruction")
    OUTPUT_TOOLTIPS = ("The picture as a scene, for Edit Blob, Drag Points, Blob Masks, Render Scene and "
                       "Composite Edit.",
                       "The scene rendered at the model's resolution: how close the inversion came.")
    SEARCH_ALIASES = ["blobgan invert", "image to blobs", "real image edit", "gan inversion"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("BLOBGAN_MODEL", {"tooltip": "The generator from Load BlobGAN."}),
                "image": ("IMAGE", {"tooltip": "The picture(s) to invert; any size."}),
                "preset": (PRESET_NAMES, {
                    "default": "balanced",
                    "tooltip": "encoder only: the encoder's guess, instant. fast: a short fit of the blobs "
                               "(the model's own decoder). balanced: a short fit, then the decoder tuned to "
                               "the picture (about 4 s per picture at 64 px on 2 CPU cores). faithful: a "
                               "longer fit and longer tuning, closest but slowest."}),
                "fit": (list(FITS), {
                    "default": "crop",
                    "tooltip": "crop: the centred square of the picture. stretch: the whole picture squeezed "
                               "to a square."}),
                "seed": ("INT", {
                    "default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF,
                    "tooltip": "Picks the decoder noise and, for a model without an encoder, the sampled "
                               "starting points."}),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "Pixels to ignore (1 = ignore), e.g. a logo or a person the "
                                             "model cannot draw. Same size as the image."}),
            },
        }

    def invert(self, model, image, preset="balanced", fit="crop", seed=0, mask=None):
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "sample_layout"):
            raise input_error(INVERT, "model", f"expected a BLOBGAN_MODEL from Load BlobGAN, got "
                              f"{type(model).__name__}")
        pictures = _picture(INVERT, "image", image)
        if mask is not None and not isinstance(mask, torch.Tensor):
            raise input_error(INVERT, "mask", f"expected a MASK, got {type(mask).__name__}")
        comfy.prepare(model)
        options = PRESETS[preset]
        bar = comfy.Progress(max(options.total_steps(pictures.shape[0]), 1))
        try:
            scene = invert(model, pictures, preset=preset, fit=fit, mask=mask, seed=int(seed) % 2**63,
                           noise_seed=int(seed) % 2**63, progress=bar.step, should_stop=comfy.cancel_requested)
        except ValueError as e:
            message = str(e)
            name = "mask" if message.startswith("mask") else "image" if message.startswith("image") else "model"
            raise input_error(INVERT, name, message) from None
        reconstruction = to_comfy_image(scene.render())
        previews = comfy.save_previews(reconstruction, prefix="blobgan_invert")
        return {"ui": {"images": previews}, "result": (scene, reconstruction)}


@checked_inputs(COMPOSITE)
class CompositeEdit:
    DESCRIPTION = ("Puts an edit of an inverted scene back into your original picture, at its full size: "
                   "your own pixels stay everywhere the edit did not touch, and the edited render (scaled up "
                   "and colour-matched) fills the old and new places of the blobs you changed, with a "
                   "feathered seam. The mask output is that region: feed it to an inpaint or img2img pass to "
                   "refine the seam at full resolution.")
    CATEGORY = "BlobGAN"
    FUNCTION = "composite"
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask")
    OUTPUT_TOOLTIPS = ("The picture with the edit, at the original resolution.",
                       "Where the edit shows (1 = edited), at the original resolution.")
    SEARCH_ALIASES = ["blobgan composite", "paste edit", "merge edit"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The original picture, the one given to Invert Image."}),
                "inverted_scene": ("BLOB_SCENE", {"tooltip": "The scene Invert Image made from it."}),
                "edited_scene": ("BLOB_SCENE", {"tooltip": "That scene after Edit Blob or Drag Points."}),
                "grow": ("FLOAT", {
                    "default": 2.0, "min": 0.0, "max": 32.0, "step": 0.5,
                    "tooltip": "Grow the edited region by this many model pixels, so object edges are "
                               "included."}),
                "feather": ("FLOAT", {
                    "default": 2.0, "min": 0.0, "max": 32.0, "step": 0.5,
                    "tooltip": "Softness of the seam, in model pixels."}),
                "colour_match": ("BOOLEAN", {
                    "default": True,
                    "tooltip": "Match the render's colours to the picture before pasting."}),
            }
        }

    def composite(self, image, inverted_scene, edited_scene, grow=2.0, feather=2.0, colour_match=True):
        before = check_scene(COMPOSITE, "inverted_scene", inverted_scene)
        after = check_scene(COMPOSITE, "edited_scene", edited_scene)
        if before.framing is None:
            raise input_error(COMPOSITE, "inverted_scene", "is not from Invert Image (a sampled scene has no "
                              "picture to go back into)")
        if base_model(after.model) is not base_model(before.model):
            raise input_error(COMPOSITE, "edited_scene", "comes from another model or inversion than "
                              "inverted_scene; edit the scene Invert Image returned")
        pictures = _picture(COMPOSITE, "image", image)
        comfy.prepare(before.model)
        try:
            out, mask = composite_edit(pictures, before, after, grow=float(grow), feather=float(feather),
                                       colour_match=bool(colour_match))
        except ValueError as e:
            raise input_error(COMPOSITE, "image", str(e)) from None
        return (to_comfy_image(out), mask)

