"""Animate Scenes: frames that move every blob from one scene's layout to another's (blobgan_core.animate)."""

from __future__ import annotations

from blobgan_core.animate import EASINGS, render_animation
from blobgan_core.images import to_comfy_image

from . import comfy
from .errors import input_error
from .inputs import checked_inputs
from .scene_nodes import RENDER_CHUNK, check_scene

NODE = "Animate Scenes"
MAX_FRAMES = 1000
MAX_IMAGES = 4096  # frames x scenes of one run: 4096 images of 256 px are 3 GiB as an IMAGE batch


@checked_inputs(NODE)
class AnimateScenes:
    DESCRIPTION = ("Animates one scene into another: every blob moves from where it is in the start scene to "
                   "where it is in the end scene (position, size, shape, angle, structure and style), and the "
                   "decoder renders each step, so the objects follow their blobs. Blobs are paired by id, so "
                   "a scene and its edit (Edit Blob, Drag Points) pair up even after depth edits and "
                   "duplicates; removed or added blobs shrink away or grow in. The first frame is the start "
                   "scene's render, the last frame the end scene's.")
    CATEGORY = "BlobGAN"
    FUNCTION = "animate"
    RETURN_TYPES = ("IMAGE", "IMAGE")
    RETURN_NAMES = ("frames", "blob_maps")
    OUTPUT_TOOLTIPS = (
        "The frames, [frames,H,W,3] (for a batch of scenes, all frames of the first scene, then of the next). "
        "Feed them to Save Image, or to Create Video or SaveAnimatedWEBP for a video.",
        "Each frame's blob map, labelled with the blob ids, in the same order as the frames.",
    )
    SEARCH_ALIASES = ["blobgan animation", "interpolate scenes", "blob video", "tween layouts"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "start_scene": ("BLOB_SCENE", {
                    "tooltip": "The first frame's scene, e.g. from Sample Blobs."}),
                "end_scene": ("BLOB_SCENE", {
                    "tooltip": "The last frame's scene, from the same model and with the same batch size, e.g. "
                               "the start scene after Edit Blob or Drag Points."}),
                "frames": ("INT", {
                    "default": 24, "min": 2, "max": MAX_FRAMES,
                    "tooltip": "Number of frames, the start and end scenes included (24 = one second at 24 "
                               "fps). Each frame costs one render."}),
                "easing": (list(EASINGS), {
                    "default": "ease_in_out",
                    "tooltip": "How the motion is spread over the frames: linear (constant speed), "
                               "ease_in_out (starts and ends slowly), ease_in (starts slowly), ease_out "
                               "(ends slowly)."}),
            }
        }

    def animate(self, start_scene, end_scene, frames=24, easing="ease_in_out"):
        start = check_scene(NODE, "start_scene", start_scene)
        end = check_scene(NODE, "end_scene", end_scene)
        if end.model is not start.model:
            raise input_error(NODE, "end_scene", "comes from another model than start_scene; animate two scenes "
                              "of the same Load BlobGAN (e.g. a sampled scene and its edit)")
        if end.layout.batch != start.layout.batch:
            raise input_error(NODE, "end_scene", f"holds {end.layout.batch} scenes but start_scene holds "
                              f"{start.layout.batch}; give both the same batch size")
        n = start.layout.batch
        if n * frames > MAX_IMAGES:
            raise input_error(NODE, "frames", f"{frames} frames x {n} scenes = {n * frames} images; at most "
                              f"{MAX_IMAGES} per run")
        comfy.prepare(start.model)
        progress = comfy.Progress(frames * -(-n // RENDER_CHUNK))
        images, maps = render_animation(start, end, frames, easing, chunk=RENDER_CHUNK, on_render=progress.step)
        # [N,F,3,R,R] -> IMAGE [N*F,R,R,3]: each scene's frames together
        return (to_comfy_image(images.flatten(0, 1)), maps.flatten(0, 1).movedim(1, -1).contiguous())
