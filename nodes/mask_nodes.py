"""Blob Masks: MASKs of chosen blobs, for inpainting and regional prompts with diffusion nodes."""

from __future__ import annotations

from blobgan_core.scene import MASK_KINDS, blob_masks

from . import comfy
from .errors import input_error
from .inputs import checked_inputs
from .scene_nodes import check_scene

MAX_MASK_SIZE = 8192


@checked_inputs("Blob Masks")
class BlobMasks:
    DESCRIPTION = ("Masks of chosen blobs of a scene: where they show in the image (visible, soft), their own "
                   "opacity ignoring what covers them (opacity), or a hard 0/1 mask (threshold). Feed it to "
                   "inpainting (VAE Encode for Inpainting, Set Latent Noise Mask) or regional prompts.")
    CATEGORY = "BlobGAN"
    FUNCTION = "masks"
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("mask",)
    OUTPUT_TOOLTIPS = ("[B,H,W] in 0..1: the union of the chosen blobs, one mask per scene of the batch.",)
    SEARCH_ALIASES = ["blob mask", "object mask", "inpaint mask blobgan"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "scene": ("BLOB_SCENE", {"tooltip": "The scene whose blobs to mask."}),
                "blob_ids": ("STRING", {
                    "default": "all",
                    "tooltip": "Which blobs: \"all\" (every visible blob) or ids from the blob map, e.g. "
                               "\"1, 3, 5-7\"."}),
                "kind": (list(MASK_KINDS), {
                    "default": "visible",
                    "tooltip": "visible: soft mask of what shows in the image (after occlusion); opacity: "
                               "each blob's own soft extent, ignoring blobs in front; threshold: visible > "
                               "threshold as a hard 0/1 mask."}),
                "threshold": ("FLOAT", {
                    "default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01,
                    "tooltip": "Cut-off for kind = threshold (ignored by the soft kinds)."}),
                "size": ("INT", {
                    "default": 0, "min": 0, "max": MAX_MASK_SIZE, "step": 8,
                    "tooltip": "Mask side in pixels; 0 = the render resolution. Set it to your diffusion "
                               "image's side (e.g. 512) to skip a resize."}),
            }
        }

    def masks(self, scene, blob_ids="all", kind="visible", threshold=0.5, size=0):
        scene = check_scene("Blob Masks", "scene", scene)
        try:
            blobs = scene.parse_blob_ids(blob_ids)
        except ValueError as e:
            raise input_error("Blob Masks", "blob_ids", str(e)) from None
        if kind not in MASK_KINDS:
            raise input_error("Blob Masks", "kind", f"must be one of {list(MASK_KINDS)}, got {kind!r}")
        if not 0 <= int(size) <= MAX_MASK_SIZE:
            raise input_error("Blob Masks", "size", f"must be 0 (the render resolution) or up to "
                              f"{MAX_MASK_SIZE}, got {size}")
        side = int(size) or scene.resolution
        mask = blob_masks(scene.layout, blobs, side, kind=kind, threshold=float(threshold))  # [B,S,S]
        comfy.check_interrupted()
        return (mask.float().cpu(),)
