"""Drag Points: DragGAN-style point dragging of a BLOB_SCENE (blobgan_core.drag)."""

from __future__ import annotations

import torch

from blobgan_core.drag import DEFAULT_LAMBDA, DEFAULT_LR, DEFAULT_STEPS, FITS, PointsError, drag, points_json
from blobgan_core.drag.points import parse_drag_points
from blobgan_core.images import to_comfy_image

from . import comfy
from .errors import input_error
from .inputs import checked_inputs
from .preview import editor_ui, remember_scene
from .scene_nodes import check_scene

NODE = "Drag Points"
MAX_STEPS = 1000
POINTS_PLACEHOLDER = '[{"x": 40, "y": 60}]'


@checked_inputs("Drag Points")
class DragPoints:
    DESCRIPTION = ("Drags points of a scene, DragGAN-style: each handle point moves to its target point and "
                   "takes the image content under it along. First the blob under each handle is moved, "
                   "turned or stretched in one step to fit its handles; then a short optimization (motion "
                   "supervision on decoder features, with the handles tracked in the rendered image) refines "
                   "the blobs under the handles until the content under every handle is about 1 px from its "
                   "target in the picture. Only those blobs change; "
                   "an optional mask limits where the image may change. Points are in image pixels of the "
                   "render. See docs/drag-points.md.")
    CATEGORY = "BlobGAN"
    FUNCTION = "drag"
    RETURN_TYPES = ("BLOB_SCENE", "IMAGE", "STRING", "IMAGE")
    RETURN_NAMES = ("scene", "image", "final_handles", "frames")
    OUTPUT_TOOLTIPS = (
        "The edited scene (same blob ids), for Render Scene, Edit Blob, Blob Masks or another Drag Points.",
        "The edited scene rendered, [B,H,W,3].",
        "Where the handles ended up, tracked in the edited image: JSON [{\"x\":..,\"y\":..}] in image pixels "
        "(for a batch of scenes, a list of such lists).",
        "An animation of the edit: the original, the closed-form step, every k-th iteration and the result "
        "(with every_k = 0 only the original and the result).",
    )
    SEARCH_ALIASES = ["draggan", "drag points", "point drag", "move points blobgan"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "scene": ("BLOB_SCENE", {
                    "tooltip": "The scene to edit (from Sample Blobs, Invert Image or Edit Blob)."}),
                "handles": ("STRING", {
                    "default": "[]", "placeholder": POINTS_PLACEHOLDER,
                    "tooltip": "Handle points, JSON [{\"x\": .., \"y\": ..}, ...] in image pixels of the render "
                               "(as ComfyUI point editors write them); handles[i] is dragged to targets[i]."}),
                "targets": ("STRING", {
                    "default": "[]", "placeholder": POINTS_PLACEHOLDER,
                    "tooltip": "Target points, same form and count as handles."}),
                "steps": ("INT", {
                    "default": DEFAULT_STEPS, "min": 0, "max": MAX_STEPS,
                    "tooltip": "Most optimization iterations after the closed-form step; the edit stops "
                               "earlier when every handle has arrived. 0 = the closed-form step only."}),
                "lr": ("FLOAT", {
                    "default": DEFAULT_LR, "min": 0.0, "max": 0.1, "step": 0.0005, "round": 0.0001,
                    "tooltip": "Adam step size for the blob centres, in image widths per iteration "
                               f"({DEFAULT_LR} = 0.5 px at 128 px); angle, aspect and size move 2.5x this."}),
                "r1": ("FLOAT", {
                    "default": 0.0, "min": 0.0, "max": 64.0, "step": 0.5,
                    "tooltip": "Radius of the patch motion supervision pushes along, in image pixels. "
                               "0 = auto (3 px at 128 px, scaled with the resolution)."}),
                "r2": ("FLOAT", {
                    "default": 0.0, "min": 0.0, "max": 64.0, "step": 0.5,
                    "tooltip": "How far past the drag's own length point tracking searches the render for "
                               "the handle's content, in image pixels. 0 = auto (8 px at 128 px, scaled with "
                               "the resolution)."}),
                "lambda_mask": ("FLOAT", {
                    "default": DEFAULT_LAMBDA, "min": 0.0, "max": 1000.0, "step": 1.0,
                    "tooltip": "DragGAN's lambda: how strongly the features outside the mask are held to the "
                               "original. Used only with a mask."}),
                "every_k": ("INT", {
                    "default": 0, "min": 0, "max": MAX_STEPS,
                    "tooltip": "Add a frame to the animation every k iterations (each costs one render). "
                               "0 = only the original and the result."}),
            },
            "optional": {
                "mask": ("MASK", {
                    "tooltip": "The region allowed to change (1 = may change); outside it the features are "
                               "held to the original with weight lambda_mask. Resized to the render. A mask "
                               "that is all 0 or all 1 is ignored."}),
                "fit": (list(FITS), {
                    "default": "auto", "advanced": True,
                    "tooltip": "Closed-form step per blob: auto (1 handle: translate, 2: similarity, 3+: "
                               "affine), or at most translate / similarity / affine; none = optimization only."}),
                "optimize_features": ("BOOLEAN", {
                    "default": False, "advanced": True,
                    "tooltip": "Also optimize the structure vectors of the dragged blobs (non-rigid changes), "
                               "pulled back toward their original values."}),
            },
            # the points widget fetches the input scene from the preview route after a page reload
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def drag(self, scene, handles, targets, steps=DEFAULT_STEPS, lr=DEFAULT_LR, r1=0.0, r2=0.0,
             lambda_mask=DEFAULT_LAMBDA, every_k=0, mask=None, fit="auto", optimize_features=False,
             unique_id=None):
        scene = check_scene(NODE, "scene", scene)
        # before the points are checked: a run without points still gives the widget its scene
        remember_scene(unique_id, scene)
        try:
            hs, ts = parse_drag_points(handles, targets)
        except PointsError as e:
            name = "targets" if str(e).startswith("targets") else "handles"
            raise input_error(NODE, name, str(e)) from None
        for name, value, lo, hi in (("steps", steps, 0, MAX_STEPS), ("every_k", every_k, 0, MAX_STEPS)):
            if not lo <= int(value) <= hi:
                raise input_error(NODE, name, f"must be in {lo}..{hi}, got {value}")
        for name, value in (("lr", lr), ("r1", r1), ("r2", r2), ("lambda_mask", lambda_mask)):
            if not float(value) >= 0:
                raise input_error(NODE, name, f"must be >= 0, got {value}")
        if fit not in FITS:
            raise input_error(NODE, "fit", f"must be one of {list(FITS)}, got {fit!r}")
        n = scene.layout.batch
        masks = _split_mask(mask, n)

        comfy.prepare(scene.model)
        bar = comfy.Progress(n * max(int(steps), 1))
        layouts, images, originals, frames, finals = [], [], [], [], []
        for i in range(n):
            done = [0]

            def progress(step, total, done=done):
                # the bar counts iterations; an early stop jumps to the end of this scene's share
                share = max(int(steps), 1)
                target = share if step >= total else step
                if target > done[0]:
                    bar.step(target - done[0])
                    done[0] = target

            try:
                result = drag(scene.select(i), hs, ts, mask=masks[i], steps=int(steps), lr=float(lr),
                              r1=float(r1) or None, r2=float(r2) or None, lam=float(lambda_mask), fit=fit,
                              optimize_features=bool(optimize_features), every=int(every_k) or 0,
                              progress=progress, should_stop=comfy.cancel_requested)
            except PointsError as e:
                name = "targets" if str(e).startswith("targets") else "handles"
                raise input_error(NODE, name, str(e)) from None
            original = result.frames[:1] if result.frames is not None else scene.select(i).render()
            layouts.append(result.layout)
            images.append(result.image)
            originals.append(original)
            frames.append(result.frames if result.frames is not None else torch.cat([original, result.image]))
            finals.append(points_json(result.handles))

        edited = scene.with_layout(type(scene.layout).cat(layouts), ids=scene.ids)
        image = to_comfy_image(torch.cat(images))
        animation = to_comfy_image(torch.cat(frames))
        final_handles = finals[0] if n == 1 else "[" + ",".join(finals) + "]"
        # "images": the result, as any preview; "drag_source": the input scene, which the points refer to
        # (the points widget draws them over it)
        ui = {"images": comfy.save_previews(image, prefix="blobgan_drag"),
              "drag_source": comfy.save_previews(to_comfy_image(torch.cat(originals)), prefix="blobgan_drag_src")}
        ui.update(editor_ui(unique_id, scene, render=False))  # blob geometry for the points widget
        return {"ui": ui, "result": (edited, image, final_handles, animation)}


def _split_mask(mask, n: int) -> list:
    if mask is None:
        return [None] * n
    if not isinstance(mask, torch.Tensor):
        raise input_error(NODE, "mask", f"expected a MASK tensor, got {type(mask).__name__}")
    m = mask if mask.dim() == 3 else mask.reshape(1, *mask.shape[-2:]) if mask.dim() == 2 else None
    if m is None:
        raise input_error(NODE, "mask", f"expected a MASK [B,H,W] or [H,W], got {list(mask.shape)}")
    if m.shape[0] not in (1, n):
        raise input_error(NODE, "mask", f"has {m.shape[0]} masks for {n} scenes; give 1 or {n}")
    return [m[0] if m.shape[0] == 1 else m[i] for i in range(n)]

